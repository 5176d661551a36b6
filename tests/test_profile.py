"""The planning profile read from what users say, and the condition vocabulary."""

from __future__ import annotations

import pytest

from assistant.profile import (
    conversation_profile,
    explicit_edits,
    extract_profile,
    infer_profile,
    profile_changes,
    profile_conditions,
    profile_from_conversation,
    read_profile,
    vocabulary_terms,
    without_negated_facts,
)
from assistant.schemas import PlanningProfile, Turn


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("We run everything on EKS in us-east-1", "hosting", ["aws"]),
        ("Our clusters are on AKS", "hosting", ["azure"]),
        ("How do pods read an S3 bucket without keys?", "hosting", ["aws"]),
        ("secrets live in Key Vault today", "hosting", ["azure"]),
        ("We are moving to GKE", "hosting", ["gcp"]),
        ("We have our own data center with bare metal", "hosting", ["on-prem"]),
        ("Kubernetes in 300 retail stores", "hosting", ["edge"]),
        ("a hybrid setup", "hosting", ["hybrid"]),
        ("We rent servers from Hetzner", "hosting", ["hosting-provider"]),
        ("Postgres and Kafka in the cluster", "workloads", ["stateful"]),
        ("nightly batch jobs and ML training jobs on GPUs", "workloads", ["batch", "gpu", "ml"]),
        ("legacy .NET Framework apps on Windows", "workloads", ["windows"]),
        ("Graviton nodes", "workloads", ["arm"]),
        ("We are 3 engineers", "team_size", 3),
        ("a team of five", "team_size", 5),
        ("a small team", "team_size", 3),
        ("We are new to Kubernetes", "k8s_experience", "low"),
        ("our SREs are Kubernetes experts", "k8s_experience", "high"),
        ("We handle card payments under PCI DSS", "compliance", ["pci"]),
        ("HIPAA applies", "compliance", ["hipaa"]),
        ("we are a bank", "compliance", ["bank"]),
        ("GDPR and data residency", "compliance", ["gdpr", "data-residency"]),
        ("tenants are untrusted customers", "isolation", "high"),
        ("we need 99.99% uptime", "availability", "high"),
        ("multi-zone please", "availability", "high"),
        ("best effort is fine", "availability", "low"),
        ("we target 99.9%", "availability", "medium"),
        ("we need it cheap", "budget_sensitivity", "high"),
        ("our cloud costs are too high", "budget_sensitivity", "high"),
        ("clusters in eu-west-1 and westeurope", "regions", ["eu-west-1", "westeurope"]),
    ],
)
def test_extract_profile(text: str, field: str, expected: object) -> None:
    assert getattr(extract_profile(text), field) == expected


def test_nothing_said_means_an_empty_profile() -> None:
    assert extract_profile("How many etcd members should we run?").is_empty()
    assert extract_profile("Which secret stores and data stores fit?").hosting == []


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


# --------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("text", "field", "absent", "present"),
    [
        # Compliance said not to apply.
        ("We have no compliance requirements at all.", "compliance", ["regulated"], []),
        ("No PCI scope here, but GDPR applies.", "compliance", ["pci"], ["gdpr"]),
        ("We are not regulated and run web apps on GKE.", "compliance", ["regulated"], []),
        ("HIPAA does not apply to us", "compliance", ["hipaa"], []),
        # Hosting taken back, and the contrast kept.
        ("We're not on AWS, we run Azure.", "hosting", ["aws"], ["azure"]),
        ("Not EKS but AKS for us", "hosting", ["aws"], ["azure"]),
        ("Instead of AWS we picked GCP.", "hosting", ["aws"], ["gcp"]),
        ("We moved off on-prem to AKS last year.", "hosting", ["on-prem"], ["azure"]),
        ("We migrated away from our data center and now run on EKS", "hosting", ["on-prem"],
         ["aws"]),
        ("we left bare metal behind; everything is on GKE now", "hosting", ["on-prem"], ["gcp"]),
        ("We are no longer on GCP, we use EKS.", "hosting", ["gcp"], ["aws"]),
        ("We used to run on OpenStack but we've since moved to AWS.", "hosting", ["on-prem"],
         ["aws"]),
        ("GCP is off the table; we're deciding between AKS and on-prem.", "hosting", ["gcp"],
         ["azure", "on-prem"]),
        ("Neither EKS nor GKE: we are on-prem with VMware", "hosting", ["aws", "gcp"],
         ["on-prem"]),
        # Workloads taken back.
        ("no Windows or GPU nodes, just Linux microservices", "workloads", ["windows", "gpu"],
         ["stateless"]),
        ("We don't run any databases in the cluster; everything is stateless",
         "workloads", ["stateful"], ["stateless"]),
        ("We're a bank without any GPUs", "workloads", ["gpu"], []),
        ("Zero GPU usage, mostly Java microservices", "workloads", ["gpu"], ["stateless"]),
        ("Windows containers are not in scope for now.", "workloads", ["windows"], []),
    ],
)
def test_negated_list_facts_are_left_out_and_reported(
    text: str, field: str, absent: list[str], present: list[str]
) -> None:
    reading = read_profile(text)
    values = getattr(reading.profile, field)
    for value in absent:
        assert value not in values, (text, values)
        assert value in getattr(reading.negated, field), (text, reading.negated)
    for value in present:
        assert value in values, (text, values)


@pytest.mark.parametrize(
    ("text", "field", "expected", "ruled_out"),
    [
        ("High availability is not needed for this internal tool.", "availability", "low",
         "high"),
        ("HA isn't a requirement for us", "availability", "low", "high"),
        ("I don't think we need multi-AZ", "availability", "low", "high"),
        ("It's not mission-critical", "availability", "low", "high"),
        ("We need zero downtime", "availability", "high", None),
        ("we cannot go down during trading hours", "availability", "high", None),
        ("cost doesn't matter, we need 99.99%", "budget_sensitivity", "low", "high"),
        ("we don't need strong isolation between our teams", "isolation", None, "high"),
        ("our engineers are not Kubernetes experts", "k8s_experience", "low", "high"),
    ],
)
def test_negated_levels(text: str, field: str, expected: str | None, ruled_out: str | None) -> None:
    reading = read_profile(text)
    assert getattr(reading.profile, field) == expected, text
    assert getattr(reading.negated, field) == ruled_out, text


@pytest.mark.parametrize(
    ("text", "absent", "present"),
    [
        # Azure Resource Manager templates are infrastructure as code, not Arm CPUs.
        ("We deploy everything with ARM templates.", {"workloads": "arm"}, {"hosting": "azure"}),
        ("Our IaC is Bicep and ARM templates", {"workloads": "arm"}, {"hosting": "azure"}),
        ("Should we move from ARM/Bicep to Terraform?", {"workloads": "arm"}, {}),
        ("We want Arm nodes to save cost", {}, {"workloads": "arm"}),
        # Edge as an adjective is not edge hosting.
        ("We're a cutting-edge fintech startup on AKS", {"hosting": "edge"},
         {"compliance": "bank"}),
        ("Bleeding edge features worry us", {"hosting": "edge"}, {}),
        ("How do we handle edge cases in autoscaling?", {"hosting": "edge"}, {}),
        ("We run k3s at the edge in 200 stores", {}, {"hosting": "edge"}),
    ],
)
def test_look_alike_words(
    text: str, absent: dict[str, str], present: dict[str, str]
) -> None:
    profile = extract_profile(text)
    for field, value in absent.items():
        assert value not in getattr(profile, field), (text, profile)
    for field, value in present.items():
        assert value in getattr(profile, field), (text, profile)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("We are 15 developers and 2 ops people.", 2),
        ("40 product engineers, and a platform team of 3", 3),
        ("Our SRE team of 4 supports 60 developers", 4),
        ("two SREs and twenty developers", 2),
        ("We have 15 developers.", None),
        ("12 software engineers build the product", None),
        ("a 5-person platform team", 5),
        ("We are 3 engineers", 3),
        ("We have 25 engineers in total; 4 of them run the clusters.", 4),
        ("Our devs (about 40 of them) ship to a platform run by 3 SREs.", 3),
    ],
)
def test_the_platform_team_is_not_the_product_developers(text: str, size: int | None) -> None:
    assert extract_profile(text).team_size == size


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No Windows or GPU nodes here. How should we lay out node pools?",
         "No or nodes here. How should we lay out node pools?"),
        ("We're not on AWS, we run Azure", "We're not on , we run Azure"),
        ("We are no longer air-gapped. Which registry?", "We are no longer . Which registry?"),
        # Negated words that are not profile facts are often the topic: they stay.
        ("devs want own CRDs, no cluster-admin", "devs want own CRDs, no cluster-admin"),
        ("We don't use Vault; where do secrets go?", "We don't use Vault; where do secrets go?"),
    ],
)
def test_search_drops_only_negated_profile_facts(text: str, expected: str) -> None:
    assert without_negated_facts(text) == expected


def test_edge_boxes_are_edge_and_scarce_gpus_are_still_gpus() -> None:
    assert extract_profile("Our edge boxes sit in shops").hosting == ["edge"]
    assert extract_profile("We can't get H100 capacity in our region").workloads == ["gpu"]
