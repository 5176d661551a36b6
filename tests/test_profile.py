"""The planning profile read from what users say, and the condition vocabulary."""

from __future__ import annotations

import pytest

from assistant.conversation import is_follow_up, standalone_question
from assistant.profile import (
    extract_profile,
    profile_conditions,
    profile_from_conversation,
    vocabulary_terms,
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


def test_follow_ups_take_the_topic_of_the_previous_question() -> None:
    history = [
        Turn(role="user", content="Should we use managed Kubernetes for our web shop on AWS?"),
        Turn(role="assistant", content="Yes, EKS."),
    ]
    standalone = standalone_question("and if we run it on-prem?", history)
    assert standalone.endswith("and if we run it on-prem?")
    assert "managed" in standalone and "Kubernetes" in standalone
    assert standalone_question("why?", history).startswith("use managed Kubernetes")
    # A new, self-contained question stays as it is.
    new = "How many etcd members does a self-managed control plane need for quorum?"
    assert standalone_question(new, history) == new
    assert standalone_question("what about Windows nodes?", []) == "what about Windows nodes?"


def test_follow_up_chains_keep_the_first_topic() -> None:
    history = [
        Turn(role="user", content="Which secrets manager should we use on Azure?"),
        Turn(role="assistant", content="..."),
        Turn(role="user", content="what about on-prem?"),
        Turn(role="assistant", content="..."),
    ]
    assert "secrets" in standalone_question("and for edge sites?", history)
    assert is_follow_up("why?") and not is_follow_up(
        "Please compare Cilium and Calico for a large on-prem cluster with BGP"
    )
