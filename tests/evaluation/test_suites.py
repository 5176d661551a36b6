"""Suite metrics and calibration: pure functions over hand-built case results."""

from __future__ import annotations

import pytest

from assistant.evaluation.calibration import (
    calibration,
    calibration_points,
    expected_calibration_error,
)
from assistant.evaluation.results import CaseResult
from assistant.evaluation.suites import consistency_values, suite_metrics


def res(cid: str, suite: str = "main", *, recommended: tuple[str, ...] = (),
        must: tuple[tuple[str, ...], ...] = (), status: str = "answered", passed: bool = True,
        variant_of: str | None = None, profile_ok: bool | None = None,
        confidences: tuple[str, ...] = (),
        probabilities: tuple[float | None, ...] = ()) -> CaseResult:
    rec = set(recommended)
    return CaseResult(
        case_id=cid, backend="b", question="q", suite=suite, status=status, passed=passed,
        recommended=list(recommended), must=[list(g) for g in must],
        missing=[list(g) for g in must if not rec & set(g)], variant_of=variant_of,
        profile_ok=profile_ok, confidences=list(confidences),
        probabilities=list(probabilities),
    )


def test_consistency_compares_must_ids_of_variants_and_original() -> None:
    must = (("a.x", "a.y"),)
    everyone = [
        res("o1", recommended=("a.x", "z.other"), must=must),
        res("v1", "paraphrases", recommended=("a.x",), must=must, variant_of="o1"),
        # Same must set {a.x} although the extra ids differ: consistent.
        res("v2", "paraphrases", recommended=("a.x", "q.q"), must=must, variant_of="o1"),
        res("o2", recommended=("a.x",), must=must),
        res("v3", "paraphrases", recommended=("a.y",), must=must, variant_of="o2"),
        # An original that is not in the run, with two variants that agree.
        res("v4", "paraphrases", recommended=(), must=must, variant_of="gone", passed=False),
        res("v5", "paraphrases", recommended=(), must=must, variant_of="gone", passed=False),
        # A lone variant of an absent original is undefined.
        res("v6", "paraphrases", recommended=("a.x",), must=must, variant_of="absent"),
    ]
    variants = [r for r in everyone if r.suite == "paraphrases"]
    assert consistency_values(variants, everyone) == [1.0, 1.0, 0.0]  # gone, o1, o2
    metrics = suite_metrics(variants, everyone)
    assert metrics["consistency"].value == pytest.approx(2 / 3)
    assert metrics["variant_pass_rate"].value == pytest.approx(4 / 6)


def test_negation_needs_decisions_and_profile() -> None:
    results = [
        res("n1", "negation", passed=True, profile_ok=True),
        res("n2", "negation", passed=True, profile_ok=False),
        res("n3", "negation", passed=False, profile_ok=True),
        res("n4", "negation", passed=True, profile_ok=None),
    ]
    metrics = suite_metrics(results)
    assert metrics["negation_pass_rate"].value == 0.5
    assert metrics["negation_profile_ok"].value == pytest.approx(2 / 3)


def test_decline_and_false_refusal_rates() -> None:
    results = [
        res("d1", "declines", status="insufficient_evidence"),
        res("d2", "declines", status="out_of_scope"),
        res("d3", "declines", status="answered"),
        res("d4", "declines", status="error"),
        res("f1", "false-refusals", status="answered"),
        res("f2", "false-refusals", status="out_of_scope"),
        res("f3", "false-refusals", status="answered"),
        res("f4", "false-refusals", status="error"),
    ]
    metrics = suite_metrics(results)
    assert metrics["decline_rate"].value == 0.5
    assert metrics["false_refusal_rate"].value == 0.5
    assert "consistency" not in metrics and "aspect_coverage" not in metrics


def test_aspect_coverage_pools_groups_over_cases() -> None:
    results = [
        res("m1", "multi-aspect", recommended=("a", "b"), must=(("a",), ("b",), ("c",))),
        res("m2", "multi-aspect", recommended=(), must=(("d",),)),
    ]
    # 2 of 4 groups met (the mean of per-case recall would be 1/3).
    assert suite_metrics(results)["aspect_coverage"].value == 0.5


def test_calibration_table_and_ece() -> None:
    results = [
        res("c1", recommended=("a", "b", "c"), must=(("a",), ("b",)),
            confidences=("high", "high", "low")),
        res("c2", recommended=("x",), must=(("y",),), confidences=("medium",)),
        # No must groups: skipped.
        res("c3", recommended=("a",), confidences=("high",)),
    ]
    assert calibration_points(results) == [
        ("high", 0.85, True), ("high", 0.85, True), ("low", 0.35, False),
        ("medium", 0.6, False),
    ]
    cal = calibration(results)
    assert [(r.label, r.count, r.correct) for r in cal.rows] == [
        ("high", 2, 2), ("medium", 1, 0), ("low", 1, 0)]
    assert cal.rows[0].share_correct == 1.0
    # |1 - .85| * 2/4 + |0 - .6| * 1/4 + |0 - .35| * 1/4
    assert cal.ece == pytest.approx(0.15 * 0.5 + 0.6 * 0.25 + 0.35 * 0.25)
    assert cal.n == 4


def test_numeric_probability_wins_over_the_label() -> None:
    results = [res("p", recommended=("a", "b"), must=(("a",),), confidences=("high", "high"),
                   probabilities=(0.95, None))]
    assert calibration_points(results) == [("high", 0.95, True), ("high", 0.85, False)]
    ece, bins = expected_calibration_error([(0.95, True), (0.85, False)])
    assert ece == pytest.approx(0.5 * 0.05 + 0.5 * 0.85)
    assert [n for _, _, n in bins] == [1, 1]
    assert expected_calibration_error([]) == (None, [])
