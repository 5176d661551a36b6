"""Follow-ups rewritten as readable standalone questions."""

from __future__ import annotations

import pytest

from assistant.schemas import PlanningProfile, Turn
from assistant.understanding.conversation import (
    is_follow_up,
    rewrite_follow_up,
    standalone_question,
)


def _history(*questions: str) -> list[Turn]:
    turns: list[Turn] = []
    for q in questions:
        turns += [Turn(role="user", content=q), Turn(role="assistant", content="...")]
    return turns


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        # "and if ..." / "what if ...": the changed fact is replaced, the topic kept.
        ("How should we run secrets on AKS?", "and if we have to run on-prem?",
         "How should we run secrets if we have to run on-prem?"),
        ("Which ingress controller fits our GKE clusters?", "What if we ran on EKS instead?",
         "Which ingress controller fits our GKE clusters if we ran on EKS instead?"),
        ("Which CNI should we use on EKS?", "what if we also need network policies?",
         "Which CNI should we use on EKS if we also need network policies?"),
        # "what about X?" / "and for Y?": a bare fact in place of the old one.
        ("How should we run secrets on AKS?", "what about on-prem?",
         "How should we run secrets on-prem?"),
        ("How should we run secrets on AKS?", "And what about GKE?",
         "How should we run secrets on GKE?"),
        ("How should we size node pools for GPU workloads?", "and for Windows nodes?",
         "How should we size node pools for Windows nodes?"),
        ("How should we isolate tenants with PCI data?", "what if there is no PCI data?",
         "How should we isolate tenants if there is no PCI data?"),
        # "same but Z"
        ("We are on AWS with 4 engineers. How should we run secrets?", "same but on Azure",
         "How should we run secrets on Azure?"),
        ("How should a team of 3 run Prometheus?", "same but with a team of 20",
         "How should we run Prometheus with a team of 20?"),
        # A new aspect of the same topic, or a fact that is what the question asks about.
        ("How should we expose services on GKE?", "what about TLS certificates?",
         "What about TLS certificates when we expose services on GKE?"),
        ("Should we use EKS or run kubeadm ourselves? We are 4 engineers.",
         "and if we have to run on-prem?",
         "We are 4 engineers. Should we use EKS or run kubeadm ourselves if we have to run "
         "on-prem?"),
        ("We want Windows nodes for our .NET apps.", "what about GPU nodes for the ML team?",
         "What about GPU nodes for the ML team? (Follow-up to: We want Windows nodes for our "
         ".NET apps.)"),
        # why / pronouns: the question names what it follows.
        ("Should we use managed Kubernetes on AWS?", "why?",
         "Why should we use managed Kubernetes on AWS?"),
        ("How many etcd members does a production cluster need?", "why?",
         "Why? (Follow-up to: How many etcd members does a production cluster need?)"),
        ("Should we use Argo CD or Flux?", "does it work with Helm charts?",
         "Does it work with Helm charts if we use Argo CD or Flux?"),
        ("Which registry fits air-gapped sites?", "and how do we mirror images into it?",
         "How do we mirror images into it? (Follow-up to: Which registry fits air-gapped "
         "sites?)"),
    ],
)
def test_follow_ups_become_readable_standalone_questions(
    previous: str, follow_up: str, expected: str
) -> None:
    assert rewrite_follow_up(follow_up, previous) == expected
    assert standalone_question(follow_up, _history(previous)) == expected


def test_a_self_contained_question_stays_as_it_is() -> None:
    history = _history("Should we use managed Kubernetes for our web shop on AWS?")
    new = "How many etcd members does a self-managed control plane need for quorum?"
    assert standalone_question(new, history) == new
    assert standalone_question("what about Windows nodes?", []) == "what about Windows nodes?"


def test_follow_up_chains_keep_the_first_topic() -> None:
    history = _history("Which secrets manager should we use on Azure?", "what about on-prem?")
    assert standalone_question("and for edge sites?", history) == (
        "Which secrets manager should we use for edge sites?"
    )
    assert is_follow_up("why?") and not is_follow_up(
        "Please compare Cilium and Calico for a large on-prem cluster with BGP"
    )


def test_a_retracted_fact_is_cut_from_the_question_words() -> None:
    from assistant.understanding.conversation import without_retracted

    question = "Should we run our own control plane? We are on AWS."
    assert without_retracted(question, PlanningProfile(hosting=["aws"])) == (
        "Should we run our own control plane?"
    )
    # Another value of the field, or no retraction: the question stays as asked.
    assert without_retracted(question, PlanningProfile(hosting=["azure"])) == question
    assert without_retracted(question, None) == question
