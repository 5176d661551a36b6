"""Query embeddings without torch: the BERT forward pass of a sentence-transformers
MiniLM model in numpy, for one short text at a time.

Importing sentence-transformers (and torch) takes seconds; a question needs one forward
pass of about twenty tokens, which numpy does in a millisecond. The weights and the
tokenizer are the model's own files, so the vectors equal the torch ones to float32
rounding (``tests/test_retrieval.py`` checks cosine > 0.9999). Documents are still
embedded by the torch model, batched, at ingest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from assistant.index.embedding import Embedder

_lock = threading.Lock()


def supports(path: Path) -> bool:
    """A BERT model with mean pooling and normalisation, stored as safetensors."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and kinds == ["Transformer", "Pooling", "Normalize"]
        and bool(pooling.get("pooling_mode_mean_tokens"))
        and not any(
            pooling.get(k)
            for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
        )
        and (path / "model.safetensors").is_file()
        and (path / "tokenizer.json").is_file()
    )


def _erf(x: Any) -> Any:
    """Abramowitz-Stegun 7.1.26 (error < 1.5e-7, below float32 resolution here)."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592
        + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


class NumpyBert:
    """The encoder of a BERT sentence-transformers model, mean-pooled and normalised."""

    def __init__(self, path: Path) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        st_config = json.loads(
            (path / "sentence_bert_config.json").read_text(encoding="utf-8")
        ) if (path / "sentence_bert_config.json").is_file() else {}
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_len = int(st_config.get("max_seq_length", 256))
        weights = _mapped_safetensors(path / "model.safetensors")
        if weights is None:
            weights = load_file(str(path / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {
            # copy=False: the weights are float32 already; a copy cost 60 ms of a cold ask.
            k[len(prefix) :]: v.astype(np.float32, copy=False)
            for k, v in weights.items()
            if k.startswith(prefix) and not k.endswith("position_ids")
        }
        # Transposed once, so each layer is x @ W.
        for name in list(self.w):
            if name.endswith(".weight") and self.w[name].ndim == 2 and "embeddings" not in name:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_len)

    def _norm(self, x: Any, name: str) -> Any:
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[
            f"{name}.bias"
        ]

    def encode(self, text: str) -> list[float]:
        return self.encode_many([text])[0]

    def encode_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Several short texts in one forward pass: their tokens form one sequence and a
        block-diagonal mask keeps each text's attention to itself. The pass is bound by
        reading the weights, so a few texts cost about as much as one."""
        import numpy as np

        encoded = [np.asarray(self.tokenizer.encode(t).ids, dtype=np.int64) for t in texts]
        ids = np.concatenate(encoded)
        positions = np.concatenate([np.arange(len(e)) for e in encoded])
        segment = np.concatenate([np.full(len(e), i) for i, e in enumerate(encoded)])
        mask = np.where(segment[:, None] == segment[None, :], 0.0, -1e9).astype(np.float32)
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        d = hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(d))
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = (x @ w[f"{p}.attention.self.query.weight"] + w[f"{p}.attention.self.query.bias"])
            k = x @ w[f"{p}.attention.self.key.weight"] + w[f"{p}.attention.self.key.bias"]
            v = x @ w[f"{p}.attention.self.value.weight"] + w[f"{p}.attention.self.value.bias"]
            q = q.reshape(n, self.heads, d).transpose(1, 0, 2)
            k = k.reshape(n, self.heads, d).transpose(1, 2, 0)
            v = v.reshape(n, self.heads, d).transpose(1, 0, 2)
            scores = (q @ k) * scale + mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
            attn = ctx @ w[f"{p}.attention.output.dense.weight"] + w[
                f"{p}.attention.output.dense.bias"
            ]
            x = self._norm(attn + x, f"{p}.attention.output.LayerNorm")
            h = x @ w[f"{p}.intermediate.dense.weight"] + w[f"{p}.intermediate.dense.bias"]
            h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))
            out = h @ w[f"{p}.output.dense.weight"] + w[f"{p}.output.dense.bias"]
            x = self._norm(out + x, f"{p}.output.LayerNorm")
        vectors = []
        for i in range(len(encoded)):
            pooled = x[segment == i].mean(0)
            pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            vectors.append([float(v) for v in pooled])
        return vectors


class OnnxQueryEncoder:
    """The same encoder through ONNX Runtime on the local export (``embedding_onnx``):
    about three times faster per question than numpy on an AVX2 CPU, but importing
    onnxruntime and opening the session cost more than a one-shot CLI ask saves."""

    def __init__(self, onnx_file: Path, model_path: Path) -> None:
        from tokenizers import Tokenizer

        from assistant.index import embedding_onnx

        st_config = model_path / "sentence_bert_config.json"
        max_len = int(
            json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length", 256)
        ) if st_config.is_file() else 256
        self.tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_len)
        # One thread: a question is a few dozen tokens, a second thread gained nothing
        # measurable and takes a core from the neighbours on a shared machine.
        self._run = embedding_onnx.runner(embedding_onnx.session(onnx_file, threads=1))

    def encode_many(self, texts: Sequence[str]) -> list[list[float]]:
        from assistant.index import embedding_onnx

        return embedding_onnx.encode(self._run, self.tokenizer, texts, max(1, len(texts)))


#: safetensors dtype names -> little-endian numpy dtypes (the ones read here).
_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def _mapped_safetensors(file: Path) -> dict[str, Any] | None:
    """The tensors of a safetensors file as read-only views of a memory map, or ``None``
    when the file holds another dtype or does not parse (``load_file`` then).

    Reading the whole file cost a cold ask 90 ms, and half of it is the word-embedding
    table, of which a question touches twenty rows: mapped, only those pages are read.
    The layout (8-byte header length, JSON header, raw little-endian data) is the
    format's specification.
    """
    import mmap
    import struct

    import numpy as np

    try:
        with file.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, struct.error):
        return None
    start = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info.get("dtype"))
        if dtype is None:
            return None
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != np.dtype(dtype).itemsize * count:
            return None
        array = np.frombuffer(mapped, dtype=dtype, count=count, offset=start + begin)
        out[name] = array.reshape(shape)
    return out


@cache
def _model(path: str) -> NumpyBert:
    return NumpyBert(Path(path))


@cache
def _onnx_model(onnx_file: str, path: str) -> OnnxQueryEncoder:
    return OnnxQueryEncoder(Path(onnx_file), Path(path))


class FastQueryEmbedder:
    """An ``Embedder`` that embeds queries in numpy (or with ONNX Runtime when given an
    exported model file) and delegates everything else."""

    def __init__(self, base: Embedder, model_path: Path, onnx_file: Path | None = None) -> None:
        self._base = base
        self._path = model_path
        self.onnx_file = onnx_file

    @property
    def engine(self) -> str:
        """What embeds the queries: ``onnx`` or ``numpy``."""
        return "onnx" if self.onnx_file is not None else "numpy"

    @property
    def name(self) -> str:
        return self._base.name

    @property
    def dimension(self) -> int:
        return self._base.dimension

    @property
    def max_tokens(self) -> int:
        return self._base.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._base.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._base.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several short queries (a question, its aspects) in one forward pass."""
        if not texts:
            return []
        with _lock:
            if self.onnx_file is not None:
                return _onnx_model(str(self.onnx_file), str(self._path)).encode_many(texts)
            model = _model(str(self._path))
            with _one_blas_thread():
                return model.encode_many(texts)


def _one_blas_thread() -> Any:
    """Matrices of twenty rows lose more to BLAS thread hand-offs than they gain (600 ms
    against 20 ms on a busy two-core machine), so the forward pass runs on one thread."""
    import contextlib

    controller = _controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@cache
def _controller() -> Any:
    """One scan of the loaded BLAS libraries per process: ``threadpool_limits`` rescans
    them on every call, which costs tens of milliseconds once torch is loaded."""
    import importlib

    try:
        # threadpoolctl comes with scikit-learn (a sentence-transformers dependency).
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


def fast_query_embedder(base: Embedder, onnx_dir: Path | None = None) -> Embedder:
    """``base`` with numpy query embedding when its model allows it, else ``base``.

    With ``onnx_dir`` (the export cache, ``data_dir/onnx``) queries run through ONNX
    Runtime when that folder already holds the fp32 export of ``base``'s model and
    onnxruntime is installed; nothing is exported here (that needs torch), so without
    the file the numpy encoder serves.
    """
    path = getattr(base, "path", None)
    if not (isinstance(path, Path) and supports(path)):
        return base
    onnx_file = None
    if onnx_dir is not None and onnx_dir.is_dir():
        from assistant.index import embedding_onnx

        if embedding_onnx.runtime_available():
            onnx_file = embedding_onnx.exported_file(path, onnx_dir, "fp32")
    return FastQueryEmbedder(base, path, onnx_file)
