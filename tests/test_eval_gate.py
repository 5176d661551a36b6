"""The CI gate: every case of every split and suite that passes in ``evals/baseline.json``
must still pass on the grounded backend over the bundled corpus, unless
``evals/allowed-regressions.yaml`` lists it with a reason (see evals/README.md).

Aggregate metrics and their tolerances are reported by ``kubeplan eval --baseline``; the
gate is per case, so a fix in one place cannot hide a break in another."""

from __future__ import annotations

import pytest

from assistant.evaluation import gate, load_report, run_eval
from assistant.evaluation.regressions import describe, load_allowed_regressions, newly_failing
from assistant.evaluation.splits import load_split

from .conftest import REPO

EVALS = REPO / "evals"
BASELINE = EVALS / "baseline.json"
ALLOWED = EVALS / "allowed-regressions.yaml"

#: Invariants of the engine, whatever the baseline says.
HARD_BOUNDS = {"citation_validity": 1.0}
#: Invariants of the development set (tuning is allowed there, so they are kept exact).
DEV_BOUNDS = {"must_not_rate": 0.0}


@pytest.mark.slow
def test_no_case_passing_in_the_baseline_fails_now(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    cases = load_split(EVALS, "all")
    report = run_eval(corpus_assistant, cases, ["grounded"], cases_file=f"{EVALS} (all)")
    failing = newly_failing(report, load_report(BASELINE), load_allowed_regressions(ALLOWED))
    assert not failing, "\n".join([
        f"{len(failing)} case(s) passing in {BASELINE.name} fail now (fix the engine or corpus; "
        f"list a case in {ALLOWED.name} with a one-line reason only when the change is "
        "intended):",
        *[describe(r) for r in failing],
    ])
    verdict = gate(report, HARD_BOUNDS)
    assert verdict.ok, "\n".join(verdict.failures)
    dev = report.splits["grounded"]["dev"].summary.metrics
    for metric, bound in DEV_BOUNDS.items():
        value = dev[metric].value
        assert value is None or value <= bound, f"dev {metric} {value} above {bound}"
