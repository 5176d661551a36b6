"""Confidence against correctness: a table per label and the expected calibration error.

A recommendation is *correct* when its id is in one of the case's ``must`` groups; cases
without ``must`` groups are skipped. Labels map to the probabilities the report states
(``LABEL_PROBABILITY``); a numeric ``probability`` on a recommendation, when the schema has
one, is used instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.evaluation.results import Calibration, CalibrationRow, CaseResult

LABEL_PROBABILITY: dict[str, float] = {"high": 0.85, "medium": 0.6, "low": 0.35}
LABELS: tuple[str, ...] = ("high", "medium", "low")
BINS = 10


def calibration_points(results: Sequence[CaseResult]) -> list[tuple[str, float, bool]]:
    """``(label, stated probability, correct)`` for every recommendation of a case with
    ``must`` groups."""
    points = []
    for r in results:
        if not r.must:
            continue
        must_ids = {d for g in r.must for d in g}
        for i, did in enumerate(r.recommended):
            label = r.confidences[i] if i < len(r.confidences) else ""
            prob = r.probabilities[i] if i < len(r.probabilities) else None
            stated = prob if prob is not None else LABEL_PROBABILITY.get(label)
            if stated is not None:
                points.append((label, float(stated), did in must_ids))
    return points


def expected_calibration_error(
    points: Sequence[tuple[float, bool]], bins: int = BINS
) -> tuple[float | None, list[tuple[float, float, int]]]:
    """ECE over ``bins`` equal-width probability bins, and the reliability bins
    ``(mean stated, share correct, n)`` that are not empty."""
    if not points:
        return None, []
    buckets: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, ok in points:
        buckets[min(int(p * bins), bins - 1)].append((p, ok))
    ece = 0.0
    table = []
    for bucket in buckets:
        if not bucket:
            continue
        stated = sum(p for p, _ in bucket) / len(bucket)
        share = sum(1 for _, ok in bucket if ok) / len(bucket)
        ece += len(bucket) / len(points) * abs(share - stated)
        table.append((round(stated, 6), round(share, 6), len(bucket)))
    return ece, table


def calibration(results: Sequence[CaseResult]) -> Calibration:
    points = calibration_points(results)
    rows = []
    labels = [*LABELS, *sorted({lb for lb, _, _ in points} - set(LABELS))]
    for label in labels:
        mine = [(p, ok) for lb, p, ok in points if lb == label]
        if mine:
            rows.append(CalibrationRow(
                label=label, count=len(mine), correct=sum(1 for _, ok in mine if ok),
                stated=sum(p for p, _ in mine) / len(mine),
            ))
    ece, bins = expected_calibration_error([(p, ok) for _, p, ok in points])
    return Calibration(rows=rows, ece=ece, bins=bins, n=len(points))
