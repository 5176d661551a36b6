"""``kubeplan doctor``: damage is found and named, ``--repair`` moves it aside and rebuilds,
and ``ingest --rebuild`` recovers a damaged store too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import Assistant
from assistant.cli import app
from assistant.config import Settings
from assistant.errors import StoreDamagedError
from assistant.index.doctor import diagnose, rebuild_plan, repair
from assistant.index.embedding import FakeEmbedder
from assistant.index.generations import StagedCollection
from assistant.index.store import ChromaStore
from tests.index.test_ingest import write_tree

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest" / "docs"


def fake(_settings: Settings) -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Two collections ingested from two folders, through the same settings as the CLI."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBEPLAN_EMBEDDER", "fake")
    monkeypatch.setenv("KUBEPLAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KUBEPLAN_CORPUS_DIR", str(FIXTURES))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    a = Assistant(settings, embedder=FakeEmbedder())
    a.ingest([FIXTURES])
    a.ingest([write_tree(tmp_path / "docs", n=3)], collection="other")
    return settings


def counts(settings: Settings) -> dict[str, int]:
    store = ChromaStore.persistent(settings.store_dir)
    return {name: store.count(name) for name in store.collections()}


def statuses(settings: Settings) -> dict[str, str]:
    return {c.name: c.status for c in diagnose(settings, embedder_factory=fake).checks}


def test_a_healthy_store_passes_every_check(env: Settings) -> None:
    report = diagnose(env, embedder_factory=fake)
    assert report.ok and not report.damaged
    assert set(statuses(env)) == {
        "settings",
        "store",
        "collection kubeplan",
        "collection other",
        "manifest kubeplan",
        "manifest other",
        "model",
    }
    assert set(statuses(env).values()) == {"ok"}


@pytest.mark.parametrize("content", [b"", b"this is not a database\n" * 200])
def test_a_damaged_database_is_found_and_repaired(env: Settings, content: bytes) -> None:
    before = counts(env)
    (env.store_dir / "chroma.sqlite3").write_bytes(content)
    report = diagnose(env, embedder_factory=fake)
    store = next(c for c in report.checks if c.name == "store")
    assert store.status == "damaged" and "damaged" in store.detail
    assert store.fix and "kubeplan doctor --repair" in store.fix
    assert not report.ok

    fixed = repair(env, embedder_factory=fake)
    assert fixed.ok, fixed.checks
    assert counts(env) == before  # both collections rebuilt from their manifests' roots
    aside = [p for p in env.data_dir.iterdir() if p.name.startswith("chroma.damaged-")]
    assert len(aside) == 1 and (aside[0] / "chroma.sqlite3").read_bytes() == content
    assert any("moved the damaged store" in a for a in fixed.repaired)


def test_repair_leaves_a_healthy_store_alone(env: Settings) -> None:
    report = repair(env, embedder_factory=fake)
    assert report.repaired == ["nothing to repair"]
    assert not [p for p in env.data_dir.iterdir() if "damaged" in p.name]


def test_rebuild_plan_comes_from_the_manifests(env: Settings, tmp_path: Path) -> None:
    plan = rebuild_plan(env, env.store_dir.resolve().as_posix())
    assert plan == {"kubeplan": [FIXTURES.resolve()], "other": [(tmp_path / "docs").resolve()]}


def test_a_moved_root_is_rebuilt_from_where_it_is_now(env: Settings, tmp_path: Path) -> None:
    # Chunk ids carry the root's folder name, not its path: the manifest keeps the path.
    moved = tmp_path / "elsewhere" / "docs"
    moved.parent.mkdir()
    (tmp_path / "docs").rename(moved)
    before = counts(env)
    Assistant(env, embedder=FakeEmbedder()).ingest([moved], collection="other")
    assert counts(env) == before  # same ids: replaced in place, not duplicated
    location = env.store_dir.resolve().as_posix()
    assert rebuild_plan(env, location)["other"] == [moved.resolve()]

    second = write_tree(tmp_path / "more", n=2)
    Assistant(env, embedder=FakeEmbedder()).ingest([second], collection="other")
    assert rebuild_plan(env, location)["other"] == [moved.resolve(), second.resolve()]
    (env.store_dir / "chroma.sqlite3").write_bytes(b"")
    assert repair(env, embedder_factory=fake).ok
    assert counts(env) == {"kubeplan": before["kubeplan"], "other": before["other"] + 6}


def test_ingest_rebuild_recovers_a_damaged_store(env: Settings) -> None:
    before = counts(env)["kubeplan"]
    (env.store_dir / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(StoreDamagedError, match="doctor --repair"):
        Assistant(env, embedder=FakeEmbedder()).stats()
    report = Assistant(env, embedder=FakeEmbedder()).ingest([FIXTURES], rebuild=True)
    assert report.moved_aside and Path(report.moved_aside).name.startswith("chroma.damaged-")
    assert counts(env) == {"kubeplan": before}


def test_a_dangling_pointer_is_damage(env: Settings) -> None:
    store = ChromaStore.persistent(env.store_dir)
    pointer = store.pointer("other")
    assert pointer is not None
    store.drop_generation(pointer.physical)
    assert statuses(env)["collection other"] == "damaged"


def test_an_interrupted_ingest_is_a_warning(env: Settings) -> None:
    store = ChromaStore.persistent(env.store_dir)
    staged = StagedCollection(store, "other")
    staged.delete("other", [next(store.iter_chunks("other")).id])
    report = diagnose(env, embedder_factory=fake)
    check = next(c for c in report.checks if c.name == "collection other")
    assert check.status == "warning" and "interrupted" in check.detail
    assert report.ok


def test_a_model_of_another_dimension_is_an_error(env: Settings) -> None:
    report = diagnose(env, embedder_factory=lambda s: FakeEmbedder(dimension=32))
    wrong = [c for c in report.checks if c.name.startswith("model for")]
    assert {c.name for c in wrong} == {"model for kubeplan", "model for other"}
    assert all(c.fix and "--rebuild" in c.fix for c in wrong) and not report.ok


def test_cli_json_and_exit_codes(env: Settings) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
    (env.store_dir / "chroma.sqlite3").write_bytes(b"")
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1 and "damaged" in result.stdout
    result = CliRunner().invoke(app, ["doctor", "--repair", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["ok"] and data["repaired"]
