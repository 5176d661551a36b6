"""The per-case gate: a case that passed in the baseline must still pass.

``evals/baseline.json`` records, per backend, the ids of the passing cases of every split
and suite (``EvalReport.passing``). A case that passed there and fails now is a regression
unless ``evals/allowed-regressions.yaml`` lists it with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import InputError
from assistant.evaluation.cases import read_yaml
from assistant.evaluation.results import CaseResult, EvalReport

_SLUG = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"


class AllowedRegression(BaseModel):
    """A case allowed to fail although it passed in the baseline, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_SLUG)
    reason: str = Field(min_length=1, pattern=r"^[^\n]+$", description="One line.")


def load_allowed_regressions(path: Path) -> dict[str, str]:
    """Case id -> reason; an absent or empty file allows nothing."""
    if not path.is_file():
        return {}
    data = read_yaml(path) or []
    if not isinstance(data, list):
        raise InputError(f"{path} is not a YAML list.",
                         "write `- {id: case-id, reason: one line}` entries.")
    try:
        items = [AllowedRegression.model_validate(x) for x in data]
    except ValidationError as exc:
        raise InputError(f"{path}: invalid entry: {str(exc)[:300]}",
                         "each entry is {id: case-id, reason: one line}.") from exc
    return {a.id: a.reason for a in items}


def baseline_passing(baseline: EvalReport) -> dict[str, set[str]]:
    """backend -> ids of the cases that passed in the baseline (any split or suite)."""
    table = baseline.passing or baseline.passing_ids()
    return {
        backend: {cid for suites in splits.values() for ids in suites.values() for cid in ids}
        for backend, splits in table.items()
    }


def newly_failing(
    report: EvalReport, baseline: EvalReport, allowed: dict[str, str] | None = None
) -> list[CaseResult]:
    """Results of gated backends (not reference rows) that passed in the baseline and fail
    now, minus the allowed ones."""
    before = baseline_passing(baseline)
    ok = allowed or {}
    gated = [b for b in report.backends if b not in report.references]
    return [
        r for r in report.results
        if r.backend in gated and not r.passed and r.case_id in before.get(r.backend, set())
        and r.case_id not in ok
    ]


def describe(r: CaseResult) -> str:
    """One line a reviewer can act on: where, what was asked, what came back, why."""
    recommended = ", ".join(r.recommended) or "none"
    why = "; ".join(r.reasons) or "failed"
    return (f"[{r.backend} {r.split}/{r.suite}] {r.case_id}: {r.question!r} -> status "
            f"{r.status}, recommended [{recommended}] ({why})")
