from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.evaluation import (
    compare,
    gate,
    load_report,
    parse_fail_under,
    run_eval,
    write_baseline,
)
from assistant.evaluation.results import EvalReport
from tests.evaluation.test_runner import CASES, RANKED, script
from tests.evaluation_fakes import FakeAssistant, tiny_catalogue


def _run(backend_script: str) -> EvalReport:
    def as_backend(question: str, backend: str):  # type: ignore[no-untyped-def]
        return script(question, backend_script)

    return run_eval(FakeAssistant(as_backend, RANKED), CASES, ["grounded"],
                    catalogue=tiny_catalogue())


def test_no_change_is_no_regression(tmp_path: Path) -> None:
    base = _run("good")
    path = write_baseline(base, tmp_path / "baseline.json")
    loaded = load_report(path)
    assert all(r.answer is None for r in loaded.results)
    comp = compare(_run("good"), loaded, baseline_name=str(path))
    (bc,) = comp.backends
    assert not any(d.regression for d in bc.deltas)
    assert bc.newly_failing == [] and bc.newly_passing == []
    recall = next(d for d in bc.deltas if d.metric == "decision_recall")
    assert recall.delta == 0.0 and recall.p_sign == 1.0 and recall.n_paired == 2


def test_worse_run_regresses_and_lists_newly_failing_cases() -> None:
    base, cur = _run("good"), _run("bad")
    comp = compare(cur, base, tolerance=0.02)
    (bc,) = comp.backends
    regressed = {d.metric for d in bc.deltas if d.regression}
    assert {"decision_recall", "must_not_rate", "status_accuracy", "citation_validity"} <= regressed
    assert not any(d.regression for d in bc.deltas if d.metric.startswith("latency"))
    assert bc.newly_failing == ["etcd", "cook", "follow"]
    report = cur.model_copy(update={"comparison": comp})
    failures = gate(report).failures
    assert any("decision_recall regressed 1.000 -> 0.000" in f for f in failures)
    # Answer evals gate per case; aggregate regressions are then reported, not gated.
    assert gate(report, aggregate=False).ok
    # The other way round everything newly passes and nothing regresses.
    back = compare(base, cur)
    assert back.backends[0].newly_passing == ["etcd", "cook", "follow"]
    assert gate(base.model_copy(update={"comparison": back})).ok


def test_fail_under_bounds_and_their_spelling() -> None:
    assert parse_fail_under(["decision_recall=0.9", "hit@k=0.5", "p95=200"]) == {
        "decision_recall": 0.9, "hit_at_k": 0.5, "latency_p95_ms": 200.0,
    }
    with pytest.raises(InputError):
        parse_fail_under(["decision_recall"])
    with pytest.raises(InputError):
        parse_fail_under(["decision_recall=high"])
    good = _run("good")
    assert gate(good, {"decision_recall": 0.9, "must_not_rate": 0.0}).ok
    bad = _run("bad")
    failures = gate(bad, {"decision_recall": 0.9, "must_not_rate": 0.0}).failures
    assert failures == [
        "grounded: decision_recall 0.000 is below 0.9",
        "grounded: must_not_rate 1.000 is above 0.0",
    ]
    with pytest.raises(InputError):
        gate(good, {"nonsense": 1.0})


def test_kind_mismatch_and_bad_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_report(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError):
        load_report(broken)
    answers = _run("good")
    retrieval = answers.model_copy(update={"kind": "retrieval"})
    with pytest.raises(InputError):
        compare(answers, retrieval)


def test_added_cases_are_listed_but_never_read_as_a_regression() -> None:
    from assistant.evaluation import Case

    base = _run("good")
    extra = Case(id="new", question="how many etcd members again",
                 must=[["availability.single-control-plane"]], tags=["availability"])

    def good_backend(question: str, backend: str):  # type: ignore[no-untyped-def]
        return script(question, "good")

    cur = run_eval(FakeAssistant(good_backend, RANKED), [*CASES, extra], ["grounded"],
                   catalogue=tiny_catalogue())
    assert cur.summaries["grounded"].metrics["decision_recall"].value == pytest.approx(2 / 3)
    (bc,) = compare(cur, base).backends
    assert bc.only_current == ["new"] and bc.newly_failing == []
    recall = next(d for d in bc.deltas if d.metric == "decision_recall")
    assert recall.current == 1.0 and recall.delta == 0.0 and not recall.regression
