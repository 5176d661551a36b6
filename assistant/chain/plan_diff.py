"""Which recommendations changed between two answers to the same question (pure)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assistant.schemas import PlanAnswer, Recommendation


class ChangedRecommendation(BaseModel):
    """A decision recommended by both answers, with the fields whose values differ."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str
    title: str
    fields: list[str] = Field(description="Names of the Recommendation fields that differ.")
    before: Recommendation
    after: Recommendation


class PlanDiff(BaseModel):
    """Recommendations added, removed and different between a before and an after answer."""

    model_config = ConfigDict(extra="forbid")

    added: list[Recommendation] = Field(default_factory=list)
    removed: list[Recommendation] = Field(default_factory=list)
    changed: list[ChangedRecommendation] = Field(default_factory=list)
    unchanged: list[str] = Field(
        default_factory=list,
        description="Decision ids left as they were."
    )
    status_before: str = ""
    status_after: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed) and (
            self.status_before == self.status_after
        )


# Citations are passage ids: a re-plan may cite other passages for the same advice, which is not a
# change the reader cares about, so they are left out of the comparison.
_COMPARED = ("recommendation", "rationale", "tradeoffs", "confidence")


def diff_plans(before: PlanAnswer, after: PlanAnswer) -> PlanDiff:
    """Compare the recommendations of two answers by decision id, keeping ``after``'s order."""
    old = {r.decision_id: r for r in before.recommendations}
    new = {r.decision_id: r for r in after.recommendations}
    changed: list[ChangedRecommendation] = []
    unchanged: list[str] = []
    for decision_id, rec in new.items():
        prior = old.get(decision_id)
        if prior is None:
            continue
        fields = [name for name in _COMPARED if getattr(prior, name) != getattr(rec, name)]
        if fields:
            changed.append(
                ChangedRecommendation(
                    decision_id=decision_id, title=rec.title, fields=fields, before=prior, after=rec
                )
            )
        else:
            unchanged.append(decision_id)
    return PlanDiff(
        added=[r for d, r in new.items() if d not in old],
        removed=[r for d, r in old.items() if d not in new],
        changed=changed,
        unchanged=unchanged,
        status_before=before.status,
        status_after=after.status,
    )
