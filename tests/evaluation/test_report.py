from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from assistant.evaluation import compare, gate, run_eval, to_markdown, write_reports
from tests.evaluation.test_runner import CASES, RANKED, script
from tests.evaluation_fakes import FakeAssistant, tiny_catalogue


def test_reports_hold_tables_plots_and_every_case(tmp_path: Path) -> None:
    fake = FakeAssistant(script, RANKED)
    report = run_eval(fake, CASES, ["good", "bad"], catalogue=tiny_catalogue())
    base = run_eval(fake, CASES, ["good", "bad"], catalogue=tiny_catalogue())
    report = report.model_copy(update={"comparison": compare(report, base)})
    report = report.model_copy(update={"gate": gate(report, {"decision_recall": 0.5})})
    paths = write_reports(report, tmp_path / "out")

    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert len(data["results"]) == 9  # two backends and the reference row, three cases
    assert data["results"][0]["answer"]["question"] == "how many etcd members"
    assert data["summaries"]["good"]["metrics"]["decision_recall"]["value"] == 1.0

    md = paths["md"].read_text(encoding="utf-8")
    assert "| metric | good | bad | cards-cosine-top5 |" in md
    assert re.search(r"\| decision_recall \| 1\.000 .*\| 0\.000", md)
    assert "status_accuracy[out_of_scope]" in md
    assert "## Gate: FAILED" in md and "bad: decision_recall 0.000 is below 0.5" in md
    assert "## Per topic: good" in md and "## Failing cases: bad (3)" in md
    assert "Newly failing: none" in md
    assert md == to_markdown(report)

    html = paths["html"].read_text(encoding="utf-8")
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) == 4  # per topic, backends, reliability, latency
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "Gate failed" in html and "Reliability (calibration)" in html
    assert "Dev and held-out side by side" in html


def test_retrieval_reports_plot_per_tag(tmp_path: Path) -> None:
    from assistant.evaluation import RetrievalSet, run_retrieval_eval

    rset = RetrievalSet.model_validate({
        "name": "mini",
        "cases": [{"id": "q1", "question": "pdb", "expect": ["a.md"], "tags": ["availability"]},
                  {"id": "q2", "question": "cni", "expect": ["b.md"], "tags": ["networking"]}],
    })
    report = run_retrieval_eval(FakeAssistant(lambda q, b: None, {"pdb": ["a.md"]}), rset)  # type: ignore[arg-type,return-value]
    paths = write_reports(report, tmp_path)
    md = paths["md"].read_text(encoding="utf-8")
    assert "# kubeplan Retrieval eval" in md and "| hit@10 | 0.500" in md
    assert "## Per topic: retrieval" in md and "| availability | 1 | 1.000" in md
    assert "## Failing cases: retrieval (1)" in md
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3


def test_split_table_always_shows_held_out_and_ablations_show_deltas() -> None:
    from assistant.evaluation.report import ablation_table, split_rows
    from assistant.evaluation.results import AblationRow

    fake = FakeAssistant(script, RANKED)
    report = run_eval(fake, CASES, ["good"], catalogue=tiny_catalogue(), support_threshold=0.0)
    header, rows = split_rows(report)
    assert header == ["metric", "good · dev", "good · heldout", "cards-cosine-top5 · dev",
                      "cards-cosine-top5 · heldout"]
    by_metric = {r[0]: r[1:] for r in rows}
    assert by_metric["pass_rate"][1] == "not run"
    assert by_metric["cases passed"][0] == "3/3"
    assert by_metric["citation_support"][2] == "–"  # the reference row cites nothing
    report = report.model_copy(update={"ablations": [AblationRow(
        component="diversity", backend="good",
        deltas={"dev": {"pass_rate": -0.25, "decision_recall": 0.0, "consistency": -0.5}})]})
    head, (row,) = ablation_table(report)
    assert head[2:6] == ["Δ pass_rate dev", "Δ decision_recall dev", "Δ pass_rate heldout",
                         "Δ decision_recall heldout"]
    assert row == ["diversity", "good", "-0.250", "+0.000", "not run", "not run",
                   "consistency dev -0.500"]
    assert "## Ablations" in to_markdown(report)
