"""The CI gate: the grounded backend over the bundled corpus must not regress against
``evals/baseline.json`` (see evals/README.md for how to refresh the baseline)."""

from __future__ import annotations

import pytest

from assistant.evaluation import DEFAULT_TOLERANCE, compare, gate, load_cases, load_report, run_eval

from .conftest import REPO

CASES_FILE = REPO / "evals" / "cases.yaml"
BASELINE = REPO / "evals" / "baseline.json"

#: Invariants that hold today and must keep holding, whatever the baseline says.
HARD_BOUNDS = {"citation_validity": 1.0, "must_not_rate": 0.0}


@pytest.mark.slow
def test_grounded_backend_does_not_regress_against_the_baseline(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    report = run_eval(corpus_assistant, load_cases(CASES_FILE), ["grounded"],
                      cases_file=str(CASES_FILE))
    comparison = compare(report, load_report(BASELINE), baseline_name=str(BASELINE),
                         tolerance=DEFAULT_TOLERANCE)
    report = report.model_copy(update={"comparison": comparison})
    verdict = gate(report, HARD_BOUNDS)
    (backend,) = comparison.backends
    by_id = {r.case_id: r for r in report.results}
    newly_failing = [
        f"{cid}: {'; '.join(by_id[cid].reasons)} (recommended {by_id[cid].recommended})"
        for cid in backend.newly_failing
    ]
    assert verdict.ok, "\n".join(
        ["eval gate failed:", *verdict.failures, "newly failing cases:", *newly_failing]
    )
    oos = report.summaries["grounded"].by_status.get("out_of_scope")
    assert oos is not None and oos.value is not None
    base_oos = load_report(BASELINE).summaries["grounded"].by_status["out_of_scope"].value
    assert base_oos is not None and oos.value >= base_oos, "out-of-scope/injection accuracy fell"
