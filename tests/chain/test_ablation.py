"""The ablation contract: component names, their check, and Assistant.with_ablations."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.chain.ablation import COMPONENTS, checked
from assistant.errors import InputError
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
    off = small.with_ablations(["card-retrieval", "passage-evidence"])
    assert off.ablations == frozenset({"card-retrieval", "passage-evidence"})
    assert small.ablations == frozenset()
    assert off.retriever is small.retriever and off.store is small.store
    assert off.card_index() is small.card_index()
    # Without card match and passage evidence nothing supports a decision.
    answer = off.ask("How many etcd members should we run?")
    assert answer.status == "insufficient_evidence" and not answer.recommendations
    assert small.ask("How many etcd members should we run?").recommendations


def test_with_ablations_rejects_unknown_names(small: Assistant, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        small.with_ablations(["everything"])
