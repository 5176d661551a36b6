"""The ablation contract: component names, their check, and Assistant.with_ablations."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.chain.ablation import COMPONENTS, checked
from assistant.errors import InputError
from assistant.generation.scoring import Weights
from assistant.retrieval.passages import Passage
from tests.chain_support import fixture_assistant


def test_components_are_kebab_case_with_descriptions() -> None:
    for name, description in COMPONENTS.items():
        assert name == name.lower() and " " not in name and description


def test_checked_names_unknown_ones_and_the_fix() -> None:
    assert checked(["aspects", "diversity"]) == frozenset({"aspects", "diversity"})
    with pytest.raises(InputError) as info:
        checked(["aspects", "nope"])
    assert "unknown ablation 'nope'" in str(info.value)
    assert "aspects" in (info.value.fix or "")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return fixture_assistant(tmp_path_factory.mktemp("ablation"))


def test_with_ablations_shares_components_and_switches_off(small: Assistant) -> None:
    small.ask("How many etcd members should we run?")
    off = small.with_ablations(["card-retrieval", "passage-evidence", "learned-cards"])
    assert off.ablations == frozenset({"card-retrieval", "passage-evidence", "learned-cards"})
    assert small.ablations == frozenset()
    assert off.retriever is small.retriever and off.store is small.store
    assert off.card_index() is small.card_index()
    # Without card match and passage evidence nothing supports a decision.
    answer = off.ask("How many etcd members should we run?")
    assert answer.status == "insufficient_evidence" and not answer.recommendations
    assert small.ask("How many etcd members should we run?").recommendations


def test_learned_cards_ablation_zeroes_its_features_and_pool(small: Assistant) -> None:
    import numpy as np

    from assistant.generation.scoring import ABLATED, make_query, score

    cards = small.card_index()
    embed = small.embedder.embed_query
    question = "How many etcd members should we run?"
    query = make_query(question, [question], None, lambda t: np.asarray(embed(t)))
    weights = Weights(coef={}, bias=0.0, settings={})
    conditions: dict[str, bool | None] = {}
    passages: list[Passage] = []
    args = (query, passages, small.load_catalogue(), cards, conditions, weights)
    learned_top = cards.ids[int(np.argmax(cards.learned_log_proba(query.vector)))]
    on = {c.decision.id: c for c in score(*args)}
    assert any(c.features["learned"] > 0 for c in on.values())
    # Without card retrieval the pool is what the learned model proposes.
    alone = {c.decision.id for c in score(*args, ablations=frozenset({"card-retrieval"}))}
    assert learned_top in alone
    off = score(*args, ablations=frozenset({"learned-cards", "card-retrieval"}))
    assert off == []
    # Switched off, the learned features read their fitted mean (0 would mean "surely
    # not this card" and push every card down).
    means = {"learned": 0.6, "aspect_learned": 0.7, "learned_rank": 0.1}
    neutral = Weights(coef={}, bias=0.0, settings={}, means=means)
    off_only = score(query, passages, small.load_catalogue(), cards, conditions, neutral,
                     ablations=frozenset({"learned-cards"}))
    assert off_only
    assert all(c.features[f] == means[f] for c in off_only for f in ABLATED["learned-cards"])


def test_with_ablations_rejects_unknown_names(small: Assistant, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        small.with_ablations(["everything"])
