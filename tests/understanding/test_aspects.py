"""Splitting a question into aspects and reading the options of a comparison."""

from __future__ import annotations

import pytest

from assistant.understanding.aspects import aspects, comparison


def test_one_part_question_is_one_aspect() -> None:
    assert aspects("How many etcd members should we run?") == [
        "How many etcd members should we run?"
    ]


def test_sentences_and_clauses_are_aspects() -> None:
    found = aspects(
        "How many etcd members should we run? Also, how do we back them up and where do "
        "we store images?"
    )
    assert len(found) == 3
    assert "store images" in found[2]


def test_enumerations_become_one_aspect_per_item() -> None:
    assert aspects("give us the platform, compute and access choices") == [
        "the platform", "compute", "access choices",
    ]
    found = aspects(
        "We run 40 microservices on AWS and need secrets management, ingress and "
        "multi-tenancy for 3 teams."
    )
    assert found == ["secrets management", "ingress", "multi-tenancy"]


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("Argo CD or Flux?", ("Argo CD", "Flux")),
        ("Flux or Argo CD?", ("Flux", "Argo CD")),
        ("managed k8s or roll our own?", ("managed k8s", "roll our own")),
        ("Calico vs Cilium vs Flannel for a bare-metal cluster", ("Calico", "Cilium", "Flannel")),
        ("Is OpenShift or Tanzu worth it over plain Kubernetes?", ("OpenShift", "Tanzu")),
        ("Should we pick between spot and on-demand nodes?", ("spot", "on-demand nodes")),
    ],
)
def test_comparison_options_in_either_order(question: str, options: tuple[str, ...]) -> None:
    found = comparison(question)
    assert found is not None and found.options == options


def test_no_comparison_without_a_connective() -> None:
    assert comparison("How should we isolate tenants?") is None


def test_lists_after_a_colon_keep_their_first_item_whole() -> None:
    found = aspects(
        "On our clusters we need to sort out the traffic path: external IPs for "
        "LoadBalancer Services, the routing layer (nginx, retired), TLS certificates, and "
        "DNS records for new hostnames."
    )
    assert found[1:] == ["external IPs for LoadBalancer Services",
                         "the routing layer (nginx, retired)", "TLS certificates",
                         "DNS records"]
    assert aspects("Two things: backups and DR.")[-2:] == ["backups", "DR"]


def test_numbered_lists_are_one_aspect_per_item() -> None:
    found = aspects("Checklist: 1) where images are stored, 2) vulnerability scanning, "
                    "3) signing images at deploy time")
    assert found[-3:] == ["where images are stored", "vulnerability scanning",
                          "signing images at deploy time"]


def test_long_items_and_lists_without_a_final_and() -> None:
    found = aspects("A baseline covering pod security, network isolation between "
                    "namespaces, node hardening, runtime threat detection, and whether to "
                    "keep client certificates?")
    assert found == ["A baseline covering pod security", "network isolation between namespaces",
                     "node hardening", "runtime threat detection",
                     "whether to keep client certificates?"]


def test_the_enumeration_switch_keeps_clauses_whole() -> None:
    question = "We need secrets management, ingress and multi-tenancy for 3 teams."
    assert aspects(question, enumerations=False) == [question.rstrip(".")]
    assert aspects("How do we carve it up, stop noisy neighbours, and show costs?") == [
        "carve it up", "stop noisy neighbours", "show costs"]
