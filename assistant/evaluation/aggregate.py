"""Per-backend aggregation of case results: headline metrics with CIs, breakdowns."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.evaluation.calibration import calibration
from assistant.evaluation.metrics import MetricSummary, mean, summarize
from assistant.evaluation.results import (
    ANSWER_METRICS,
    LATENCY,
    TIMING_METRICS,
    BackendSummary,
    CaseResult,
    SplitSummary,
)
from assistant.evaluation.suites import suite_metrics
from assistant.schemas import TOPICS


def metric_summary(metric: str, results: Sequence[CaseResult], ci: bool = True) -> MetricSummary:
    """One headline metric over ``results`` (latency percentiles come from per-case wall time)."""
    if metric == "latency_p50_ms":
        return summarize((r.scores.get(LATENCY) for r in results), stat="percentile", q=50, ci=ci)
    if metric == "latency_p95_ms":
        return summarize((r.scores.get(LATENCY) for r in results), stat="percentile", q=95, ci=ci)
    return summarize((r.scores.get(metric) for r in results), ci=ci)


def _breakdown(
    results: Sequence[CaseResult], metrics: Sequence[str]
) -> dict[str, float | None]:
    row: dict[str, float | None] = {"cases": float(len(results))}
    for m in metrics:
        if m not in TIMING_METRICS:
            row[m] = mean(r.scores.get(m) for r in results)
    return row


def summarize_backend(
    backend: str, results: Sequence[CaseResult], metrics: Sequence[str]
) -> BackendSummary:
    """Headline metrics (bootstrap 95% CIs), status accuracy per status, per-topic/tag means."""
    by_status: dict[str, list[CaseResult]] = {}
    by_topic: dict[str, list[CaseResult]] = {}
    by_tag: dict[str, list[CaseResult]] = {}
    for r in results:
        if r.expect_status:
            by_status.setdefault(r.expect_status, []).append(r)
        for t in r.topics:
            by_topic.setdefault(t, []).append(r)
        for t in r.tags:
            if t not in TOPICS:
                by_tag.setdefault(t, []).append(r)
    topic_order = [t for t in TOPICS if t in by_topic]
    return BackendSummary(
        backend=backend,
        cases=len(results),
        passed=sum(1 for r in results if r.passed),
        errors=sum(1 for r in results if r.error),
        metrics={m: metric_summary(m, results) for m in metrics},
        by_status={
            s: summarize(r.scores.get("status_accuracy") for r in rs)
            for s, rs in sorted(by_status.items())
        },
        by_topic={t: _breakdown(by_topic[t], metrics) for t in topic_order},
        by_tag={t: _breakdown(rs, metrics) for t, rs in sorted(by_tag.items())},
        failing=[r.case_id for r in results if not r.passed],
    )


def summarize_splits(backend: str, results: Sequence[CaseResult]) -> dict[str, SplitSummary]:
    """Per split (dev first): headline metrics, suite metrics (a paraphrase's original is
    looked up among all of ``results``) and calibration."""
    splits: dict[str, list[CaseResult]] = {}
    for r in results:
        splits.setdefault(r.split, []).append(r)
    order = sorted(splits, key=lambda s: (s != "dev", s))
    return {
        name: SplitSummary(
            split=name,
            summary=summarize_backend(backend, splits[name], ANSWER_METRICS),
            suite_metrics=suite_metrics(splits[name], results),
            calibration=calibration(splits[name]),
        )
        for name in order
    }
