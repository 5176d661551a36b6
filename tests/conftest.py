"""Shared fixtures. No test touches the network: the model loads from the bundled package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.config import Settings  # noqa: E402

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
