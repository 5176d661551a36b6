"""Shared fixtures. No test touches the network: the model loads from the bundled package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.chain.api import Assistant
from assistant.config import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's KUBEPLAN_* variables or .env file."""
    for key in list(os.environ):
        if key.startswith("KUBEPLAN_"):
            monkeypatch.delenv(key)


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    """Settings with the deterministic fake embedder and a private data directory."""
    return Settings(data_dir=tmp_path / "data", embedder="fake", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """An ``Assistant`` over the real bundled corpus, embedded ONCE per test session with the
    real model into a private data dir. Shared by the chain, eval and UI tests: treat it
    as read-only (do not ingest into its collection or change its settings)."""
    from assistant.index.indexer import run_ingest

    data_dir = tmp_path_factory.mktemp("corpus-assistant")
    settings = Settings(data_dir=data_dir, corpus_dir=CORPUS, _env_file=None)  # type: ignore[call-arg]
    assistant = Assistant(settings)
    report = run_ingest(
        [CORPUS], settings=settings, store=assistant.store, embedder=assistant.embedder
    )
    assert report.chunks_added > 0, f"the bundled corpus produced no chunks: {report}"
    return assistant
