"""The conversation's planning profile (explicit vs inferred, changes) and the condition
vocabulary."""

from __future__ import annotations

import pytest

from assistant.schemas import PlanningProfile, Turn
from assistant.understanding.profile import (
    conversation_profile,
    explicit_edits,
    infer_profile,
    profile_changes,
    profile_conditions,
    profile_from_conversation,
    vocabulary_terms,
)


def test_later_hosting_replaces_earlier_and_explicit_wins() -> None:
    history = [
        Turn(role="user", content="We are on AWS with 4 engineers and stateless apps"),
        Turn(role="assistant", content="Use EKS."),
    ]
    profile = profile_from_conversation("and if we run it on-prem?", history)
    assert profile.hosting == ["on-prem"]
    assert profile.team_size == 4 and profile.workloads == ["stateless"]
    explicit = PlanningProfile(team_size=40, hosting=["gcp"])
    merged = profile_from_conversation("and if we run it on-prem?", history, explicit)
    assert merged.team_size == 40 and merged.hosting == ["gcp"]
    assert merged.workloads == ["stateless"]


def test_profile_conditions_map_onto_the_shared_vocabulary() -> None:
    profile = PlanningProfile(
        hosting=["aws"], workloads=["batch"], team_size=3, compliance=["pci"],
        budget_sensitivity="high", availability="low",
    )
    c = profile_conditions(profile, "we will run many clusters")
    assert c["aws"] is True and c["azure"] is False and c["on-prem"] is False
    assert c["public cloud"] is True and c["small team"] is True
    assert c["large platform team"] is False
    assert c["regulated (pci, hipaa, soc 2)"] is True and c["cost-sensitive"] is True
    assert c["best-effort availability"] is True and c["high availability target"] is False
    assert c["batch jobs"] is True and c["stateful workloads"] is False
    assert c["many clusters"] is True and c["single cluster"] is False
    assert c["data residency"] is None and c["air-gapped"] is None
    assert profile_conditions(PlanningProfile())["aws"] is None


@pytest.mark.parametrize(
    ("condition", "terms"),
    [
        ("small team", ["small team"]),
        ("Small team without Kubernetes specialists", ["small team"]),
        ("regulated (PCI, HIPAA, SOC 2)", ["regulated (pci, hipaa, soc 2)"]),
        ("HIPAA", ["regulated (pci, hipaa, soc 2)"]),
        ("AWS", ["aws"]),
        ("running on AWS or GCP", ["aws", "gcp"]),
        ("production cluster", []),
        ("on-premises data centre", ["on-prem"]),
    ],
)
def test_vocabulary_terms(condition: str, terms: list[str]) -> None:
    assert vocabulary_terms(condition) == terms


# --------------------------------------------------------------------------- conversation


def _user(text: str) -> Turn:
    return Turn(role="user", content=text)


def test_a_follow_up_replaces_hosting_unless_it_adds_it() -> None:
    history = [_user("How should we run secrets on AKS?"), Turn(role="assistant", content="…")]
    assert infer_profile("and if we have to run on-prem?", history).profile.hosting == [
        "on-prem"
    ]
    for also in ("what if we also run on-prem?", "and on-prem as well?",
                 "in addition we have a data center"):
        assert infer_profile(also, history).profile.hosting == ["azure", "on-prem"], also


def test_a_later_turn_takes_back_an_earlier_fact() -> None:
    history = [_user("We are on AWS with PCI data and 4 engineers")]
    reading = infer_profile("Actually we are not on AWS anymore, and PCI is out of scope", history)
    assert reading.profile.hosting == [] and reading.profile.compliance == []
    assert reading.profile.team_size == 4
    assert reading.negated.hosting == ["aws"] and reading.negated.compliance == ["pci"]
    # Said again later, a fact is no longer reported as negated.
    again = infer_profile("We are on AWS after all", [*history, _user("not on AWS")])
    assert again.profile.hosting == ["aws"] and again.negated.hosting == []


def test_explicit_and_inferred_stay_apart() -> None:
    history = [_user("How should we run secrets on AKS? We are 3 engineers.")]
    explicit = PlanningProfile(compliance=["pci"])
    c = conversation_profile("and if we have to run on-prem?", history, explicit)
    assert c.explicit == explicit
    assert c.inferred.hosting == ["on-prem"] and c.inferred.compliance == []
    assert c.used.hosting == ["on-prem"] and c.used.compliance == ["pci"]
    assert c.used.team_size == 3
    [change] = c.changes
    assert change.field == "hosting" and change.before == ["azure"]
    assert change.message == "Hosting changed from azure to on-prem"
    # An explicit field wins over what the conversation says.
    pinned = conversation_profile("and on-prem?", history, PlanningProfile(hosting=["gcp"]))
    assert pinned.used.hosting == ["gcp"] and pinned.inferred.hosting == ["on-prem"]
    assert conversation_profile("How should we run secrets?").changes == []


def test_the_form_makes_only_edited_fields_explicit() -> None:
    shown = PlanningProfile(hosting=["azure"], team_size=3)
    submitted = PlanningProfile(hosting=["azure"], team_size=3, availability="high")
    edits = explicit_edits(shown, submitted)
    assert edits == PlanningProfile(availability="high")
    again = explicit_edits(submitted, submitted.model_copy(update={"team_size": 8}), edits)
    assert again == PlanningProfile(availability="high", team_size=8)


def test_changes_are_sentences() -> None:
    changes = profile_changes(
        PlanningProfile(team_size=3, availability="high"),
        PlanningProfile(team_size=5, compliance=["pci"]),
    )
    assert [c.message for c in changes] == [
        "Team size changed from 3 to 5",
        "Compliance set to pci",
        "Availability no longer set (was high)",
    ]


def test_negated_conditions_in_the_text() -> None:
    c = profile_conditions(PlanningProfile(), "we are not air-gapped and not multi-cloud")
    assert c["air-gapped"] is False and c["multi-cloud"] is False
    assert profile_conditions(PlanningProfile(), "no internet at the sites")["air-gapped"] is True


def test_a_retracted_fact_leaves_the_inferred_profile_and_joins_the_negated() -> None:
    from assistant.understanding.profile import conversation_profile, retract

    history = [Turn(role="user", content="We are on AWS with a team of 3."),
               Turn(role="assistant", content="Noted.")]
    gone = PlanningProfile(hosting=["aws"], team_size=3)
    profiles = conversation_profile("how should we do ingress?", history, None, gone)
    assert profiles.inferred.hosting == [] and profiles.inferred.team_size is None
    assert profiles.negated.hosting == ["aws"] and profiles.negated.team_size == 3
    assert profiles.used == profiles.inferred
    # A value other than the retracted one stays; the explicit profile wins over a retraction.
    assert retract(PlanningProfile(team_size=5), gone).team_size == 5
    explicit = PlanningProfile(hosting=["aws"])
    assert conversation_profile("ingress?", history, explicit, gone).used.hosting == ["aws"]
    assert conversation_profile("ingress?", history, None, None).inferred.hosting == ["aws"]
