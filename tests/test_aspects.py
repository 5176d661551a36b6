"""Splitting a question into aspects and reading the options of a comparison."""

from __future__ import annotations

import pytest

from assistant.generation.aspects import aspects, comparison


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
