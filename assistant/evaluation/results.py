"""The eval report's data: per-case results, per-backend summaries, baseline comparison.

``report.json`` is ``EvalReport.model_dump_json()``; a baseline file is the same model with
the answers left out (``EvalReport.compact()``), so either can be passed as ``--baseline``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..schemas import PlanAnswer
from .metrics import MetricSummary

ANSWER_METRICS: tuple[str, ...] = (
    "pass_rate",
    "decision_recall",
    "decision_precision",
    "must_not_rate",
    "status_accuracy",
    "citation_validity",
    "citation_support",
    "citation_specificity",
    "sources_recall",
    "hit_at_k",
    "recall_at_k",
    "mrr",
    "ndcg_at_10",
    "latency_p50_ms",
    "latency_p95_ms",
)
"""Headline metrics of an answer eval, in report order."""

RETRIEVAL_METRICS: tuple[str, ...] = (
    "hit_at_k",
    "recall_at_k",
    "mrr",
    "ndcg_at_10",
    "latency_p50_ms",
    "latency_p95_ms",
)
"""Headline metrics of a retrieval eval."""

LOWER_IS_BETTER = frozenset({"must_not_rate", "latency_p50_ms", "latency_p95_ms"})
TIMING_METRICS = frozenset({"latency_p50_ms", "latency_p95_ms"})
"""Machine-dependent: reported and compared, never gated on by default."""

LATENCY = "latency_ms"
"""Per-case score name of the measured wall time; p50/p95 are computed from it."""


def normalize_metric(name: str) -> str:
    """Accept ``hit@k``, ``ndcg@10``, ``p95`` style spellings for metric names."""
    key = name.strip().lower().replace("@", "_at_").replace("-", "_")
    aliases = {
        "latency_p50": "latency_p50_ms",
        "latency_p95": "latency_p95_ms",
        "p50": "latency_p50_ms",
        "p95": "latency_p95_ms",
        "recall": "decision_recall",
        "precision": "decision_precision",
        "must_not": "must_not_rate",
        "accuracy": "status_accuracy",
        "hit": "hit_at_k",
    }
    return aliases.get(key, key)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseResult(_Strict):
    """One case run on one backend: its scores, verdict and (in report.json) the answer."""

    case_id: str
    backend: str
    question: str
    tags: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    expect_status: str | None = None
    status: str | None = Field(default=None, description="Answer status, or 'error'.")
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="Why the case failed.")
    scores: dict[str, float | None] = Field(
        default_factory=dict, description="Per-case metric values; None when undefined."
    )
    recommended: list[str] = Field(default_factory=list)
    missing: list[list[str]] = Field(default_factory=list, description="Unmet `must` groups.")
    must_not_hits: list[str] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list, description="decision -> source id")
    retrieved: list[str] = Field(default_factory=list, description="Top documents, ranked.")
    expected_sources: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0
    error: str | None = None
    answer: PlanAnswer | None = None


class BackendSummary(_Strict):
    """Aggregated metrics of one backend."""

    backend: str
    cases: int
    passed: int
    errors: int = 0
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    by_status: dict[str, MetricSummary] = Field(
        default_factory=dict, description="Status accuracy per expected status."
    )
    by_topic: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    by_tag: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    failing: list[str] = Field(default_factory=list)


class MetricDelta(_Strict):
    """One metric, current against baseline, with a paired test over shared cases."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    higher_is_better: bool
    n_paired: int = 0
    p_bootstrap: float | None = None
    p_sign: float | None = None
    regression: bool = False


class BackendComparison(_Strict):
    backend: str
    deltas: list[MetricDelta] = Field(default_factory=list)
    newly_failing: list[str] = Field(default_factory=list)
    newly_passing: list[str] = Field(default_factory=list)
    only_current: list[str] = Field(default_factory=list, description="Cases new in this run.")
    only_baseline: list[str] = Field(default_factory=list, description="Cases that went away.")


class Comparison(_Strict):
    baseline: str = Field(description="The baseline file.")
    baseline_created: dt.datetime | None = None
    tolerance: float
    backends: list[BackendComparison] = Field(default_factory=list)


class Gate(_Strict):
    """Why the run fails (regressions beyond tolerance, values below --fail-under)."""

    failures: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class EvalReport(_Strict):
    """Everything an eval run produced."""

    kind: Literal["answers", "retrieval"] = "answers"
    created: dt.datetime
    version: str = ""
    cases_file: str | None = None
    collection: str | None = None
    k: int = 10
    backends: list[str]
    summaries: dict[str, BackendSummary] = Field(default_factory=dict)
    results: list[CaseResult] = Field(default_factory=list)
    comparison: Comparison | None = None
    gate: Gate = Field(default_factory=Gate)

    def results_of(self, backend: str) -> list[CaseResult]:
        return [r for r in self.results if r.backend == backend]

    def headline(self) -> tuple[str, ...]:
        return ANSWER_METRICS if self.kind == "answers" else RETRIEVAL_METRICS

    def compact(self) -> EvalReport:
        """The report without answers or comparison: what a committed baseline holds."""
        return self.model_copy(
            update={
                "results": [r.model_copy(update={"answer": None}) for r in self.results],
                "comparison": None,
                "gate": Gate(),
            }
        )
