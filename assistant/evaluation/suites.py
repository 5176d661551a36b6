"""Metrics of the eval suites (pure functions over case results of one backend).

- ``consistency`` (paraphrases): share of originals whose variants, together with the
  original when it is in the same run, recommend the same set of ``must`` ids (the
  recommended ids intersected with the union of the group's ``must`` ids). Defined for
  originals with at least two answers in the run.
- ``variant_pass_rate`` (paraphrases): pass rate of the variants.
- ``negation_pass_rate`` (negation): cases passing on decisions AND on the extracted profile;
  ``negation_profile_ok``: share whose profile holds ``expect_profile`` and no ``forbid_profile``.
- ``decline_rate`` (declines): share whose status is not ``answered`` (an error is no decline).
- ``false_refusal_rate`` (false-refusals): share not ``answered`` (lower is better).
- ``aspect_coverage`` (multi-aspect): share of all ``must`` groups met, pooled over cases.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.evaluation.metrics import MetricSummary, summarize
from assistant.evaluation.results import CaseResult

SUITE_METRICS: dict[str, tuple[str, ...]] = {
    "paraphrases": ("consistency", "variant_pass_rate"),
    "negation": ("negation_pass_rate", "negation_profile_ok"),
    "declines": ("decline_rate",),
    "false-refusals": ("false_refusal_rate",),
    "multi-aspect": ("aspect_coverage",),
}
"""Suite -> the metrics it reports, in report order."""

ALL_SUITE_METRICS: tuple[str, ...] = tuple(m for ms in SUITE_METRICS.values() for m in ms)

_DECLINED = frozenset({"insufficient_evidence", "out_of_scope"})


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def must_set(recommended: Sequence[str], must_ids: set[str]) -> frozenset[str]:
    return frozenset(d for d in recommended if d in must_ids)


def consistency_values(
    variants: Sequence[CaseResult], everyone: Sequence[CaseResult]
) -> list[float]:
    """One 0/1 value per original with at least two answers among ``variants`` and the
    original (looked up in ``everyone``, the run's results of the same backend)."""
    by_id = {r.case_id: r for r in everyone}
    groups: dict[str, list[CaseResult]] = {}
    for v in variants:
        if v.variant_of:
            groups.setdefault(v.variant_of, []).append(v)
    values = []
    for original, members in sorted(groups.items()):
        if original in by_id:
            members = [by_id[original], *members]
        if len(members) < 2:
            continue
        must_ids = {d for r in members for g in r.must for d in g}
        sets = {must_set(r.recommended, must_ids) for r in members}
        values.append(_flag(len(sets) == 1))
    return values


def aspect_coverage(results: Sequence[CaseResult]) -> float | None:
    groups = sum(len(r.must) for r in results)
    if not groups:
        return None
    met = sum(len(r.must) - len(r.missing) for r in results)
    return met / groups


def suite_metrics(
    results: Sequence[CaseResult], everyone: Sequence[CaseResult] | None = None
) -> dict[str, MetricSummary]:
    """Every suite metric defined on ``results`` (one backend, one split)."""
    by_suite: dict[str, list[CaseResult]] = {}
    for r in results:
        by_suite.setdefault(r.suite, []).append(r)
    out: dict[str, MetricSummary] = {}
    para = by_suite.get("paraphrases", [])
    if para:
        out["consistency"] = summarize(consistency_values(para, everyone or results))
        out["variant_pass_rate"] = summarize(_flag(r.passed) for r in para)
    neg = by_suite.get("negation", [])
    if neg:
        out["negation_pass_rate"] = summarize(
            _flag(r.passed and r.profile_ok is not False) for r in neg
        )
        out["negation_profile_ok"] = summarize(
            None if r.profile_ok is None else _flag(r.profile_ok) for r in neg
        )
    dec = by_suite.get("declines", [])
    if dec:
        out["decline_rate"] = summarize(_flag(r.status in _DECLINED) for r in dec)
    fr = by_suite.get("false-refusals", [])
    if fr:
        out["false_refusal_rate"] = summarize(_flag(r.status != "answered") for r in fr)
    multi = by_suite.get("multi-aspect", [])
    if multi:
        value = aspect_coverage(multi)
        out["aspect_coverage"] = MetricSummary(
            value=value, n=sum(len(r.must) for r in multi)
        )
    return out
