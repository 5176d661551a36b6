"""Negation cues and their scope."""

from __future__ import annotations

import pytest

from assistant.understanding.negation import asked_spans, is_negated, negation_scopes, split_negated


def _negated_words(text: str) -> list[str]:
    scopes = negation_scopes(text)
    out = []
    for word in text.replace(",", " ").replace(".", " ").replace(";", " ").split():
        start = text.index(word)
        if is_negated(scopes, start, start + len(word)):
            out.append(word)
    return out


def _assert_scope(text: str, negated: list[str], kept: list[str]) -> None:
    found = _negated_words(text)
    for word in negated:
        assert word in found, (text, found)
    for word in kept:
        assert word not in found, (text, found)


@pytest.mark.parametrize(
    ("text", "negated", "kept"),
    [
        ("We are not on AWS, we run Azure", ["AWS"], ["Azure"]),
        ("Not AWS but Azure", ["AWS"], ["Azure"]),
        ("Instead of AWS we use Azure", ["AWS"], ["Azure"]),
        ("We chose Azure rather than AWS", ["AWS"], ["Azure"]),
        ("We moved off VMware to Azure", ["VMware"], ["Azure"]),
        ("We have no GPUs and run Postgres", ["GPUs"], ["Postgres"]),
        ("neither Windows nor GPUs here; Linux only", ["Windows", "GPUs"], ["Linux"]),
        ("high availability is not needed for this tool", ["availability"], ["tool"]),
        ("no managed offering in our datacenter", ["managed"], ["datacenter"]),
        ("I don't think we need Vault", ["Vault"], []),
    ],
)
def test_scope_covers_the_negated_phrase_and_stops_at_a_contrast(
    text: str, negated: list[str], kept: list[str]
) -> None:
    _assert_scope(text, negated, kept)


def test_words_of_the_cue_itself_are_not_negated() -> None:
    text = "we need no downtime"
    scopes = negation_scopes(text)
    start = text.index("no downtime")
    assert not is_negated(scopes, start, start + len("no downtime"))


def test_not_only_and_no_more_than_are_not_negations() -> None:
    for text in ("not only AWS but also Azure", "no more than 3 engineers"):
        scopes = negation_scopes(text)
        word = "AWS" if "AWS" in text else "3"
        start = text.index(word)
        assert not is_negated(scopes, start, start + len(word)), text


def test_trouble_getting_something_does_not_negate_needing_it() -> None:
    text = "We can't get H100 GPUs when we need them"
    scopes = negation_scopes(text)
    start = text.index("GPUs")
    assert not is_negated(scopes, start, start + 4)


def test_split_negated_takes_out_cue_and_scope_and_returns_the_negated_words() -> None:
    text = "We don't run Vault; our secrets live in AWS. Where to store keys?"
    kept, negated = split_negated(text)
    assert "Vault" not in kept and "don't" not in kept
    assert kept == "We ; our secrets live in AWS. Where to store keys?"
    assert negated == "run Vault"


def test_split_negated_keeps_what_the_negation_leaves_alone() -> None:
    kept, negated = split_negated("Not AWS but Azure. HA is not needed for this tool.")
    assert negated.split(". ") == ["AWS", "HA"]
    assert "Azure" in kept and "tool" in kept and "AWS" not in kept and "HA" not in kept


def test_split_negated_without_a_negation_is_the_text_itself() -> None:
    text = "How many etcd members should we run?"
    assert split_negated(text) == (text, "")


def test_own_wording_keeps_a_negation_that_states_a_fact() -> None:
    text = "We need no downtime at all. Which zones?"
    assert split_negated(text)[1] == "downtime"
    own = [(text.index("no downtime"), text.index("no downtime") + len("no downtime"))]
    assert split_negated(text, own) == (text, "")


def test_what_the_user_cannot_do_is_the_problem_and_stays() -> None:
    text = "We can't tell which service is slow. What should we add?"
    assert split_negated(text) == (text, "")


def test_a_polar_question_about_needing_something_asks_about_it() -> None:
    text = "We run one production cluster. Do we need a fleet manager?"
    ((start, end),) = asked_spans(text)
    assert text[start:end].strip() == "a fleet manager"
    text = "Is a sovereign cloud offering worth paying for?"
    ((start, end),) = asked_spans(text)
    assert text[start:end].strip() == "a sovereign cloud offering"


def test_statements_and_open_questions_ask_about_nothing() -> None:
    assert asked_spans("We need a fleet manager for our 40 clusters.") == []
    assert asked_spans("How should we run our 40 clusters?") == []


# --------------------------------------------------------------- clause structure


@pytest.mark.parametrize(
    ("text", "negated", "kept"),
    [
        # One cue over a whole list, up to the clause that follows it.
        ("We have no Kafka, Redis or Postgres in the cluster, only Go APIs",
         ["Kafka", "Redis", "Postgres"], ["Go"]),
        ("Neither SOX, PCI nor HIPAA applies; we sell garden tools", ["SOX", "PCI", "HIPAA"],
         ["garden"]),
        # A comma that opens a new clause is no list.
        ("We have no GPUs, we run Postgres", ["GPUs"], ["Postgres"]),
        ("No Windows, and we run Java services", ["Windows"], ["Java"]),
        # A parenthesis right after the cue.
        ("We will not, at least this year, run any Windows nodes", ["Windows"], ["year"]),
        # A past situation is taken back with its prepositions.
        ("We used to host everything in a colo in Leeds, now it is all GKE",
         ["colo", "Leeds"], ["GKE"]),
        # Quantifiers cover their clause, the subject's own words left alone.
        ("Nothing in our stack needs Windows, and Linux is fine", ["Windows"], ["Linux"]),
        ("None of us has operated Kubernetes but we learn fast", ["Kubernetes"], ["learn"]),
        # Something said to be ending, and an option weighed and turned down.
        ("The VMware cluster is being decommissioned this summer", ["VMware"], ["summer"]),
        ("We looked at Rancher and OpenShift but went with EKS", ["Rancher", "OpenShift"],
         ["EKS"]),
    ],
)
def test_structure_finds_lists_asides_past_clauses_quantifiers_and_rejections(
    text: str, negated: list[str], kept: list[str]
) -> None:
    _assert_scope(text, negated, kept)


def test_structure_off_reads_the_core_cues_only() -> None:
    text = "We have no Kafka, Redis or Postgres in the cluster"
    start = text.index("Postgres")
    assert not is_negated(negation_scopes(text, structured=False), start, start + 8)
    assert is_negated(negation_scopes(text), start, start + 8)
    text = "We looked at Rancher but went with EKS"
    assert negation_scopes(text, structured=False) == []


def test_not_yet_but_is_a_plan_not_a_denial() -> None:
    text = "We don't run Windows containers yet, but two .NET apps arrive in spring"
    start = text.index("Windows")
    assert not is_negated(negation_scopes(text), start, start + 7)
    # Without the contrast "not yet" still denies it today.
    text = "We don't run Windows containers yet and none are planned"
    assert is_negated(negation_scopes(text), start, start + 7)


def test_a_swap_is_marked_as_a_substitution() -> None:
    text = "We'd pick Flux instead of Argo CD"
    kinds = {s.kind for s in negation_scopes(text)}
    assert kinds == {"substitution"}
    assert {s.kind for s in negation_scopes(text, structured=False)} == {"plain"}


def test_asked_object_ends_where_the_users_situation_begins() -> None:
    text = "Do we need Vault for our three GKE clusters?"
    spans = asked_spans(text)
    assert any(text[a:b].strip() == "Vault" for a, b in spans), spans


def test_a_rule_a_quantifier_states_and_an_or_not_alternative_take_nothing_back() -> None:
    for text, word in (("Policy: nobody may SSH into nodes", "SSH"),
                       ("EKS or not, a blueprint, CNI and secrets", "blueprint"),
                       ("Nobody on our team of three has run etcd", "three")):
        start = text.index(word)
        assert not is_negated(negation_scopes(text), start, start + len(word)), text
