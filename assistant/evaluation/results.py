"""The eval report's data: per-case results, per-backend summaries, baseline comparison.

``report.json`` is ``EvalReport.model_dump_json()``; a baseline file is the same model with
the answers left out (``EvalReport.compact()``), so either can be passed as ``--baseline``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.evaluation.metrics import MetricSummary
from assistant.schemas import PlanAnswer

ANSWER_METRICS: tuple[str, ...] = (
    "pass_rate",
    "decision_recall",
    "decision_precision",
    "must_not_rate",
    "status_accuracy",
    "citation_validity",
    "citation_support",
    "citation_specificity",
    "citation_url_correctness",
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

LOWER_IS_BETTER = frozenset(
    {"must_not_rate", "latency_p50_ms", "latency_p95_ms", "false_refusal_rate", "ece"}
)
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
    split: str = "dev"
    suite: str = "main"
    variant_of: str | None = None
    must: list[list[str]] = Field(default_factory=list, description="The case's `must` groups.")
    profile_ok: bool | None = Field(
        default=None, description="Profile holds expect_profile and none of forbid_profile."
    )
    status: str | None = Field(default=None, description="Answer status, or 'error'.")
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="Why the case failed.")
    scores: dict[str, float | None] = Field(
        default_factory=dict, description="Per-case metric values; None when undefined."
    )
    recommended: list[str] = Field(default_factory=list)
    confidences: list[str] = Field(
        default_factory=list, description="Confidence label of each recommended id, in order."
    )
    probabilities: list[float | None] = Field(
        default_factory=list, description="Numeric probability of each, when the schema has one."
    )
    wrong_urls: list[str] = Field(default_factory=list, description="decision -> source id")
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


class CalibrationRow(_Strict):
    label: str
    count: int
    correct: int
    stated: float | None = Field(default=None, description="Mean stated probability.")

    @property
    def share_correct(self) -> float | None:
        return self.correct / self.count if self.count else None


class Calibration(_Strict):
    """Confidence against correctness (a recommendation is correct when its id is in a
    `must` group; cases without `must` groups are skipped)."""

    rows: list[CalibrationRow] = Field(default_factory=list)
    ece: float | None = None
    bins: list[tuple[float, float, int]] = Field(
        default_factory=list, description="Reliability bins: (mean stated, share correct, n)."
    )
    n: int = 0


class SplitSummary(_Strict):
    """One backend on one split: headline metrics, suite metrics, calibration."""

    split: str
    summary: BackendSummary
    suite_metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    calibration: Calibration = Field(default_factory=Calibration)


class AblationRow(_Strict):
    """One component switched off: metric deltas (ablated - normal) per split."""

    component: str
    description: str = ""
    backend: str
    deltas: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    values: dict[str, dict[str, float | None]] = Field(default_factory=dict)


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
    references: list[str] = Field(
        default_factory=list, description="Naive reference rows among `backends` (never gated)."
    )
    splits: dict[str, dict[str, SplitSummary]] = Field(
        default_factory=dict, description="backend -> split -> summary."
    )
    ablations: list[AblationRow] = Field(default_factory=list)
    passing: dict[str, dict[str, dict[str, list[str]]]] = Field(
        default_factory=dict,
        description="backend -> split -> suite -> ids of passing cases (what the gate reads).",
    )
    comparison: Comparison | None = None
    gate: Gate = Field(default_factory=Gate)

    def results_of(self, backend: str) -> list[CaseResult]:
        return [r for r in self.results if r.backend == backend]

    def headline(self) -> tuple[str, ...]:
        return ANSWER_METRICS if self.kind == "answers" else RETRIEVAL_METRICS

    def passing_ids(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        """backend -> split -> suite -> sorted ids of the cases that passed."""
        table: dict[str, dict[str, dict[str, list[str]]]] = {}
        for r in self.results:
            suites = table.setdefault(r.backend, {}).setdefault(r.split, {})
            ids = suites.setdefault(r.suite, [])
            if r.passed:
                ids.append(r.case_id)
        for suites_by_split in table.values():
            for suites in suites_by_split.values():
                for ids in suites.values():
                    ids.sort()
        return table

    def compact(self) -> EvalReport:
        """The report without answers or comparison, with the passing ids per backend,
        split and suite: what a committed baseline holds."""
        return self.model_copy(
            update={
                "results": [r.model_copy(update={"answer": None}) for r in self.results],
                "passing": self.passing_ids(),
                "comparison": None,
                "gate": Gate(),
            }
        )
