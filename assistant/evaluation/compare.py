"""Baseline comparison and the pass/fail gate of an eval run.

Every headline metric gets its delta against the baseline, computed over the cases both runs
share, and a paired test over those cases (paired bootstrap of the mean difference, and an
exact sign test; for 0/1 scores the sign test is McNemar's exact test). A *regression* is a
headline metric that got worse by more than ``tolerance`` (absolute); latency is compared but
never gated on, because it depends on the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from assistant.errors import InputError
from assistant.evaluation.aggregate import metric_summary
from assistant.evaluation.metrics import paired_bootstrap_p, sign_test_p
from assistant.evaluation.results import (
    LATENCY,
    LOWER_IS_BETTER,
    TIMING_METRICS,
    BackendComparison,
    CaseResult,
    Comparison,
    EvalReport,
    Gate,
    MetricDelta,
    normalize_metric,
)

DEFAULT_TOLERANCE = 0.02


def load_report(path: Path) -> EvalReport:
    """Read a ``report.json`` or a compact baseline file."""
    if not path.is_file():
        raise InputError(
            f"baseline {path} does not exist.",
            "pass a report.json from an earlier run, or evals/baseline.json.",
        )
    try:
        return EvalReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise InputError(
            f"{path} is not an eval report: {str(exc)[:300]}",
            "regenerate it with `kubeplan eval --write-baseline FILE`.",
        ) from exc


def _paired(metric: str, cur: Sequence[CaseResult], base: Sequence[CaseResult]) -> list[float]:
    score = LATENCY if metric in TIMING_METRICS else metric
    before = {r.case_id: r.scores.get(score) for r in base}
    diffs = []
    for r in cur:
        now, then = r.scores.get(score), before.get(r.case_id)
        if now is not None and then is not None:
            diffs.append(now - then)
    return diffs


def compare_backend(
    backend: str,
    current: EvalReport,
    baseline: EvalReport,
    tolerance: float = DEFAULT_TOLERANCE,
) -> BackendComparison:
    """Deltas over the cases both runs share, so added or removed cases never read as a change."""
    cur_all, base_all = current.results_of(backend), baseline.results_of(backend)
    shared = {r.case_id for r in cur_all} & {r.case_id for r in base_all}
    cur_results = [r for r in cur_all if r.case_id in shared]
    base_results = [r for r in base_all if r.case_id in shared]
    deltas = []
    for metric in current.headline():
        now_v = metric_summary(metric, cur_results, ci=False).value
        then_v = metric_summary(metric, base_results, ci=False).value
        delta = None if now_v is None or then_v is None else now_v - then_v
        higher = metric not in LOWER_IS_BETTER
        worse = delta is not None and (delta < -tolerance if higher else delta > tolerance)
        diffs = _paired(metric, cur_results, base_results)
        deltas.append(
            MetricDelta(
                metric=metric,
                baseline=then_v,
                current=now_v,
                delta=delta,
                higher_is_better=higher,
                n_paired=len(diffs),
                p_bootstrap=paired_bootstrap_p(diffs),
                p_sign=sign_test_p(diffs),
                regression=worse and metric not in TIMING_METRICS,
            )
        )
    before = {r.case_id: r.passed for r in base_all}
    now_ids = {r.case_id for r in cur_all}
    return BackendComparison(
        backend=backend,
        deltas=deltas,
        newly_failing=[r.case_id for r in cur_all if before.get(r.case_id) and not r.passed],
        newly_passing=[
            r.case_id for r in cur_all if before.get(r.case_id) is False and r.passed
        ],
        only_current=sorted(now_ids - before.keys()),
        only_baseline=sorted(before.keys() - now_ids),
    )


def compare(
    current: EvalReport,
    baseline: EvalReport,
    *,
    baseline_name: str = "baseline",
    tolerance: float = DEFAULT_TOLERANCE,
) -> Comparison:
    """Deltas for every backend that both runs have."""
    if current.kind != baseline.kind:
        raise InputError(
            f"the baseline is a {baseline.kind} eval but this run is a {current.kind} eval.",
            "compare answer evals with answer baselines and retrieval evals with retrieval ones.",
        )
    # Reference rows are context, not a backend under test.
    shared = [b for b in current.backends
              if b in baseline.summaries and b not in current.references]
    return Comparison(
        baseline=baseline_name,
        baseline_created=baseline.created,
        tolerance=tolerance,
        backends=[compare_backend(b, current, baseline, tolerance) for b in shared],
    )


def parse_fail_under(items: Iterable[str]) -> dict[str, float]:
    """``["decision_recall=0.9", "hit@k=0.8"]`` -> ``{"decision_recall": 0.9, "hit_at_k": 0.8}``."""
    bounds: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            bounds[normalize_metric(name)] = float(raw)
        except ValueError as exc:
            raise InputError(
                f"--fail-under {item!r} is not METRIC=VALUE.",
                "write it like --fail-under decision_recall=0.9",
            ) from exc
    return bounds


def gate(
    report: EvalReport,
    fail_under: Mapping[str, float] | None = None,
    *,
    aggregate: bool = True,
) -> Gate:
    """Failures: regressions in ``report.comparison`` (unless ``aggregate`` is False: answer
    evals gate per case, see ``regressions.py``, and report aggregate deltas only) and values
    beyond ``fail_under``.

    For metrics where lower is better (``must_not_rate``, latency) the bound is a maximum.
    """
    failures = []
    if report.comparison and aggregate:
        for bc in report.comparison.backends:
            for d in bc.deltas:
                if d.regression:
                    failures.append(
                        f"{bc.backend}: {d.metric} regressed {d.baseline:.3f} -> "
                        f"{d.current:.3f} (tolerance {report.comparison.tolerance})"
                    )
    known = set(report.headline())
    for metric, bound in (fail_under or {}).items():
        if metric not in known:
            raise InputError(
                f"--fail-under names unknown metric {metric!r}.",
                "use one of: " + ", ".join(report.headline()),
            )
        for backend, summary in report.summaries.items():
            if backend in report.references:
                continue
            ms = summary.metrics.get(metric)
            value = ms.value if ms else None
            if value is None:
                continue
            below = value > bound if metric in LOWER_IS_BETTER else value < bound
            if below:
                word = "above" if metric in LOWER_IS_BETTER else "below"
                failures.append(f"{backend}: {metric} {value:.3f} is {word} {bound}")
    return Gate(failures=failures)
