"""One file's bytes to the chunks ingest stores: parse, redact credentials, chunk, flag.

Pure functions of their arguments (no store, no model): ``prepare_file`` runs in the
ingesting process or in a parse worker (``assistant.parse_worker``), which is why its
inputs are plain, picklable data and its outcome is a value, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.errors import KubeplanError
from assistant.ingest.chunking import CountTokens, chunk_document
from assistant.ingest.loading import FoundFile, SkippedFile, parse_file
from assistant.ingest.redaction import redact_document
from assistant.ingest.untrusted import instruction_flags
from assistant.schemas import Chunk, LoadedDocument


@dataclass(frozen=True)
class PrepareSpec:
    """What preparing a file needs besides the file: the same for every file of a run."""

    collection: str
    max_tokens: int
    overlap: int
    count_tokens: CountTokens
    corpus_dir: Path | None = None
    redact_secrets: bool = True


@dataclass(frozen=True)
class Prepared:
    """A file ready to embed: its document, its chunks and how many credentials went."""

    doc: LoadedDocument
    chunks: list[Chunk]
    redactions: int


@dataclass(frozen=True)
class Rejected:
    """A file that yields no chunks this time: skipped (not a document) or failed."""

    reason: str
    skipped: bool = False


Outcome = Prepared | Rejected


def prepare_file(found: FoundFile, data: bytes, label: str, spec: PrepareSpec) -> Outcome:
    """Parse ``data`` (the bytes of ``found``), redact credentials, chunk and flag it.

    ``label`` is the name the file's root goes by in ids (``ingest_speed.root_label``).
    Every error a hostile file can provoke becomes a ``Rejected`` with the reason.
    """
    try:
        doc = parse_file(found, data, corpus_dir=spec.corpus_dir)
        doc = doc.model_copy(update={"root": label})
        doc, redactions = redact_document(doc) if spec.redact_secrets else (doc, 0)
        chunks = chunk_document(
            doc,
            collection=spec.collection,
            count_tokens=spec.count_tokens,
            max_tokens=spec.max_tokens,
            overlap=spec.overlap,
        )
    except SkippedFile as exc:
        return Rejected(exc.problem, skipped=True)
    except KubeplanError as exc:
        return Rejected(exc.problem)
    except RecursionError:
        return Rejected("nested too deeply to parse")
    except Exception as exc:
        # A parser bug or a file built to break one: reported, never a crash.
        return Rejected(f"{type(exc).__name__}: {str(exc)[:300]}")
    return Prepared(doc, [flag_chunk(c) for c in chunks], redactions)


def flag_chunk(chunk: Chunk) -> Chunk:
    """``chunk`` with its flags: what it says is checked along with its title and headings.
    The flags follow from the text, which the content hash covers, so ids stay stable."""
    text = "\n".join([chunk.title, *chunk.heading_path, chunk.text])
    flags = instruction_flags(text)
    return chunk.model_copy(update={"flags": flags}) if flags else chunk


def timeout_reason(seconds: float) -> str:
    """Why a file that ran out of time failed: the limit and the setting that sets it."""
    return (
        f"parsing, scanning for credentials and chunking took longer than the "
        f"{seconds:g}-second limit (raise KUBEPLAN_PARSE_TIMEOUT if it is a real document)"
    )
