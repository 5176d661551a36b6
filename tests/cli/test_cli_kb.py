"""``kubeplan ingest``, ``stats`` and ``config`` through the real command line wiring."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app, main

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest" / "docs"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("KUBEPLAN_EMBEDDER", "fake")
    monkeypatch.setenv("KUBEPLAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_ingest_json_then_unchanged(env: Path) -> None:
    code, out = invoke("ingest", str(FIXTURES), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["files_ingested"] == 5 and report["chunks_embedded"] > 0
    assert "chunks_per_second" in report
    code, out = invoke("ingest", str(FIXTURES), "--json")
    assert json.loads(out)["chunks_embedded"] == 0


def test_ingest_prepares_the_card_index_for_the_first_question(env: Path) -> None:
    cards = env / "data" / "cards"
    assert not cards.exists()
    code, _ = invoke("ingest", str(FIXTURES), "--json")
    assert code == 0
    # Card vectors and the learned card model are cached: the first ask loads them.
    assert any(cards.glob("*.npz")) and any(cards.glob("learned-*.npz"))


def test_ingest_survives_a_failed_query_model_export(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.chain.api import Assistant
    from assistant.errors import ModelMissingError

    exports: list[str] = []
    original = Assistant.export_query_model

    def broken(self: Assistant) -> None:
        exports.append(self.settings.collection)
        raise ModelMissingError("no onnx here", "install the fast extra")

    monkeypatch.setattr(Assistant, "export_query_model", broken)
    result = CliRunner().invoke(app, ["ingest", str(FIXTURES), "--json"])
    assert result.exit_code == 0, result.output
    assert exports  # it was tried, after the ingest
    assert json.loads(result.stdout)["files_ingested"] == 5
    assert "no ONNX query encoder" in result.stderr and "numpy encoder" in result.stderr
    # With the fake embedder nothing is exported at all.
    monkeypatch.setattr(Assistant, "export_query_model", original)
    assert invoke("ingest", str(FIXTURES), "--json")[0] == 0
    assert not (env / "data" / "onnx").exists()


def test_ingest_table_names_skipped_files(env: Path) -> None:
    docs = env / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nsome text about pods\n")
    (docs / "empty.md").write_text("")
    code, out = invoke("ingest", str(docs), "--collection", "cli-test", "--exclude", "zzz*")
    assert code == 0
    assert "1 ingested" in out and "1 skipped" in out
    assert "empty.md" in out and "empty file" in out
    assert "chunks/s" in out


def test_ingest_fails_when_nothing_could_be_ingested(env: Path) -> None:
    docs = env / "docs"
    docs.mkdir()
    (docs / "empty.md").write_text("")
    code, _ = invoke("ingest", str(docs))
    assert code == 1


def test_stats(env: Path) -> None:
    invoke("ingest", str(FIXTURES), "--include", "**/*.md")
    code, out = invoke("stats", "--json")
    assert code == 0
    stats = json.loads(out)
    assert stats["sources"] == 2 and stats["collection"] == "kubeplan"
    assert stats["location"].endswith("chroma")
    code, out = invoke("stats")
    assert "last ingest" in out and "topic workloads" in out


def test_config(env: Path) -> None:
    code, out = invoke("config", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["embedder"]["value"] == "fake"
    assert rows["embedder"]["source"] == "environment (KUBEPLAN_EMBEDDER)"
    assert rows["collection"]["source"] == "default"
    code, out = invoke("config")
    assert code == 0 and "KUBEPLAN_DATA_DIR" in out


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["ingest", "/definitely/not/here"], 2, "does not exist"),
        (["stats", "--collection", "never-ingested"], 1, "kubeplan ingest"),
    ],
)
def test_errors_have_a_problem_and_a_fix(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    exit_code: int,
    message: str,
) -> None:
    monkeypatch.setattr(sys, "argv", ["kubeplan", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == exit_code
    err = capsys.readouterr().err
    assert "error:" in err and "fix:" in err and message in err
