"""``kubeplan eval`` end to end over the bundled corpus (shared session store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant.cli import app

CASES = [
    {"id": "etcd", "question": "How many etcd members should we run?",
     "must": [["availability.etcd-odd-members"]], "expect_sources": ["control-plane-and-etcd-ha"],
     "tags": ["availability"]},
    {"id": "cook", "question": "give me a lasagna recipe for 8 people",
     "expect_status": "out_of_scope", "tags": ["out-of-scope"]},
]


@pytest.fixture
def cli_env(corpus_assistant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Point the CLI's settings at the session's ingested store."""
    monkeypatch.setenv("KUBEPLAN_DATA_DIR", str(corpus_assistant.settings.data_dir))
    monkeypatch.setenv("KUBEPLAN_CORPUS_DIR", str(corpus_assistant.settings.corpus_dir))


@pytest.mark.slow
@pytest.mark.usefixtures("cli_env")
def test_eval_writes_reports_compares_and_gates(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(yaml.safe_dump({"cases": CASES}), encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["eval", "--cases", str(cases), "--out", str(tmp_path / "r1"),
                                "--write-baseline", str(tmp_path / "base.json")])
    assert first.exit_code == 0, first.output
    assert "decision_recall" in first.output and "status_accuracy[out_of_scope]" in first.output
    for name in ("report.json", "report.md", "report.html"):
        assert (tmp_path / "r1" / name).is_file()
    data = json.loads((tmp_path / "r1" / "report.json").read_text(encoding="utf-8"))
    assert {r["case_id"] for r in data["results"]} == {"etcd", "cook"}

    again = runner.invoke(app, ["eval", "--cases", str(cases), "--out", str(tmp_path / "r2"),
                                "--baseline", str(tmp_path / "base.json"),
                                "--fail-under", "status_accuracy=0.5"])
    assert again.exit_code == 0, again.output
    assert "newly failing: none" in again.output

    strict = runner.invoke(app, ["eval", "--cases", str(cases), "--out", str(tmp_path / "r3"),
                                 "--fail-under", "latency_p95_ms=0.001"])
    assert strict.exit_code == 1
    assert "eval gate failed" in strict.output


@pytest.mark.slow
@pytest.mark.usefixtures("cli_env")
def test_retrieval_eval_over_a_collection(tmp_path: Path) -> None:
    rset = tmp_path / "mine.yaml"
    rset.write_text(yaml.safe_dump({
        "name": "mine",
        "cases": [
            {"id": "etcd", "question": "etcd quorum and member count",
             "expect": ["availability/control-plane-and-etcd-ha.md"]},
            {"id": "spot", "question": "spot instances for batch jobs",
             "expect": ["capacity/sizing-and-autoscaling.md"]},
        ],
    }), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--retrieval", str(rset), "--collection", "kubeplan",
                                      "--k", "5", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert data["kind"] == "retrieval"
    assert data["summaries"]["retrieval"]["metrics"]["hit_at_k"]["value"] == 1.0


def test_bad_fail_under_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--fail-under", "recall", "--cases",
                                      str(tmp_path / "none.yaml")])
    assert result.exit_code != 0


def _evals_tree(root: Path) -> None:
    (root / "evals" / "suites").mkdir(parents=True)
    (root / "evals" / "heldout").mkdir(parents=True)
    (root / "evals" / "cases.yaml").write_text(yaml.safe_dump({"cases": CASES[:1]}),
                                               encoding="utf-8")
    (root / "evals" / "suites" / "declines.yaml").write_text(yaml.safe_dump({
        "suite": "declines", "split": "dev", "cases": [CASES[1]]}), encoding="utf-8")
    (root / "evals" / "heldout" / "cases-a.yaml").write_text(yaml.safe_dump({
        "split": "heldout", "cases": [{
            "id": "ho-etcd", "question": "How many etcd members does a quorum need?",
            "must": [["availability.etcd-odd-members"]], "tags": ["availability"]}]}),
        encoding="utf-8")


@pytest.mark.slow
@pytest.mark.usefixtures("cli_env")
def test_eval_by_split_with_ablation_and_per_case_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _evals_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["eval", "--split", "all", "--out", "r1", "--ablate", "diversity",
                                "--write-baseline", "base.json"])
    assert first.exit_code == 0, first.output
    data = json.loads(Path("r1/report.json").read_text(encoding="utf-8"))
    assert set(data["splits"]["grounded"]) == {"dev", "heldout"}
    assert data["references"] == ["cards-cosine-top5"]
    assert "decline_rate" in data["splits"]["grounded"]["dev"]["suite_metrics"]
    assert [row["component"] for row in data["ablations"]] == ["diversity"]
    md = Path("r1/report.md").read_text(encoding="utf-8")
    assert "## Dev and held-out side by side" in md and "grounded · heldout" in md
    assert "## Ablations" in md and "## Calibration" in md
    base = json.loads(Path("base.json").read_text(encoding="utf-8"))
    assert base["passing"]["grounded"]["heldout"]["main"] == ["ho-etcd"]

    # A case that passed in the baseline and fails now fails the run, naming the case.
    base["passing"]["grounded"]["dev"]["declines"] = ["cook"]
    for r in base["results"]:
        if r["case_id"] == "cook" and r["backend"] == "grounded":
            r["passed"] = True
    Path("base.json").write_text(json.dumps(base), encoding="utf-8")
    cases = yaml.safe_load(Path("evals/suites/declines.yaml").read_text(encoding="utf-8"))
    cases["cases"][0]["expect_status"] = "answered"
    Path("evals/suites/declines.yaml").write_text(yaml.safe_dump(cases), encoding="utf-8")
    gated = runner.invoke(app, ["eval", "--split", "dev", "--out", "r2", "--baseline",
                                "base.json"])
    assert gated.exit_code == 1, gated.output
    assert "newly failing: [grounded dev/declines] cook" in gated.output.replace("\n", " ")
    Path("evals/allowed-regressions.yaml").write_text(
        "- {id: cook, reason: the case now expects an answer}\n", encoding="utf-8")
    allowed = runner.invoke(app, ["eval", "--split", "dev", "--out", "r3", "--baseline",
                                  "base.json"])
    assert allowed.exit_code == 0, allowed.output


def test_unknown_split_and_ablation_are_usage_errors(tmp_path: Path) -> None:
    bad_split = CliRunner().invoke(app, ["eval", "--split", "test", "--cases",
                                         str(tmp_path / "none.yaml")])
    assert bad_split.exit_code != 0 and "unknown split 'test'" in str(bad_split.exception)
    bad = CliRunner().invoke(app, ["eval", "--ablate", "magic"])
    assert bad.exit_code != 0 and "unknown ablation 'magic'" in str(bad.exception)
