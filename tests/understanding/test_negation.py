"""Negation cues and their scope."""

from __future__ import annotations

import pytest

from assistant.understanding.negation import is_negated, negation_scopes, split_negated


def _negated_words(text: str) -> list[str]:
    scopes = negation_scopes(text)
    out = []
    for word in text.replace(",", " ").replace(".", " ").replace(";", " ").split():
        start = text.index(word)
        if is_negated(scopes, start, start + len(word)):
            out.append(word)
    return out


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
    found = _negated_words(text)
    for word in negated:
        assert word in found, (text, found)
    for word in kept:
        assert word not in found, (text, found)


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
