"""Test support for the answer chain: a small fixture corpus ingested with the fake
embedder, into a private embedded store (no model, no network)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from assistant import Assistant
from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import run_ingest
from assistant.index.store import ChromaStore

FIXTURE_CORPUS = Path(__file__).resolve().parent / "fixtures" / "chain" / "corpus"


def fixture_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "embedder": "fake",
        "corpus_dir": FIXTURE_CORPUS,
        "collection": "chain",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def ingest_fixture(settings: Settings, store: Any) -> None:
    report = run_ingest([FIXTURE_CORPUS], settings=settings, store=store, embedder=FakeEmbedder())
    assert report.chunks_added > 0 and not report.files_failed, report


def fixture_assistant(
    data_dir: Path, persistent: bool = False, chat_model: Any = None, **overrides: Any
) -> Assistant:
    """An Assistant over the fixture corpus. Ephemeral stores share one process-wide
    space, so each gets its own collection name."""
    if persistent:
        settings = fixture_settings(data_dir, **overrides)
        store = ChromaStore.persistent(settings.store_dir)
    else:
        overrides.setdefault("collection", f"chain-{uuid.uuid4().hex[:8]}")
        settings = fixture_settings(data_dir, **overrides)
        store = ChromaStore.ephemeral()
    ingest_fixture(settings, store)
    return Assistant(settings, embedder=FakeEmbedder(), store=store, chat_model=chat_model)
