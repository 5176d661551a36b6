"""The ablation contract: component names, Assistant.with_ablations, engine switches, and
the harness's ablation rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.ablation import COMPONENTS, checked
from assistant.errors import InputError
from assistant.evaluation import Case
from assistant.evaluation.ablate import ablation_row, resolve, run_ablations
from assistant.evaluation.metrics import MetricSummary
from assistant.evaluation.results import BackendSummary, SplitSummary
from assistant.schemas import PlanningProfile
from assistant.scope import with_synonyms
from tests.chain_support import fixture_assistant


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return fixture_assistant(tmp_path_factory.mktemp("ablation"))


def test_checked_names_and_resolve_all() -> None:
    assert checked(["synonyms"]) == frozenset({"synonyms"})
    with pytest.raises(InputError, match="unknown ablation 'magic'") as info:
        checked(["synonyms", "magic"])
    assert info.value.fix == "use one of: " + ", ".join(COMPONENTS) + "."
    assert resolve(["all"]) == list(COMPONENTS)
    assert resolve(["profile-fit", "synonyms", "profile-fit"]) == ["profile-fit", "synonyms"]
    with pytest.raises(InputError):
        resolve(["nope"])


def test_with_ablations_shares_components_and_leaves_the_original_alone(small: Assistant) -> None:
    off = small.with_ablations(["profile-fit"])
    assert off.ablations == frozenset({"profile-fit"}) and small.ablations == frozenset()
    assert off.embedder is small.embedder and off.store is small.store
    assert off.retriever is small.retriever and off.load_catalogue() is small.load_catalogue()
    with pytest.raises(InputError):
        small.with_ablations(["nope"])


def test_switches_change_answers(small: Assistant) -> None:
    question = "How many etcd members should we run?"
    assert small.ask(question).status == "answered"
    blind = small.with_ablations(["card-matching"]).with_ablations(
        ["card-matching", "retrieval-evidence"])
    # Neither card match nor passage votes: nothing scores high enough to recommend.
    assert blind.ask(question).status == "insufficient_evidence"

    shared = "How should we share clusters between our teams?"
    regulated = PlanningProfile(compliance=["pci"], isolation="high")
    with_fit = [r.decision_id for r in small.ask(shared, profile=regulated).recommendations]
    no_fit = small.with_ablations(["profile-fit"])
    without = [r.decision_id for r in no_fit.ask(shared, profile=regulated).recommendations]
    plain = [r.decision_id for r in no_fit.ask(shared).recommendations]
    assert "tenancy.namespaces-per-team" not in with_fit
    assert without == plain  # the profile no longer changes the ranking


def test_synonym_switch_returns_the_question_unchanged() -> None:
    question = "where do we keep our passwords"
    assert with_synonyms(question, enabled=False) == question


def _split(pass_rate: float, recall: float, **suite: float) -> SplitSummary:
    return SplitSummary(
        split="dev",
        summary=BackendSummary(backend="g", cases=1, passed=1, metrics={
            "pass_rate": MetricSummary(value=pass_rate),
            "decision_recall": MetricSummary(value=recall)}),
        suite_metrics={k: MetricSummary(value=v) for k, v in suite.items()},
    )


def test_ablation_row_holds_deltas_per_split() -> None:
    normal = {"dev": _split(0.9, 0.95, consistency=0.8), "heldout": _split(0.7, 0.8)}
    ablated = {"dev": _split(0.6, 0.9, consistency=0.5), "heldout": _split(0.7, 0.75)}
    row = ablation_row("synonyms", "grounded", normal, ablated)
    assert row.description == COMPONENTS["synonyms"]
    assert row.deltas["dev"]["pass_rate"] == pytest.approx(-0.3)
    assert row.deltas["dev"]["consistency"] == pytest.approx(-0.3)
    assert row.deltas["heldout"] == {"pass_rate": 0.0, "decision_recall": pytest.approx(-0.05)}


def test_run_ablations_runs_each_component_over_the_cases(small: Assistant,
                                                          tmp_path: Path) -> None:
    from assistant.evaluation import run_eval

    cases = [Case(id="etcd", question="How many etcd members should we run?",
                  must=[["availability.etcd-odd-members"]])]
    report = run_eval(small, cases, ["grounded"], support_threshold=0.5)
    rows = run_ablations(small, cases, report.splits["grounded"],
                         ["card-matching", "retrieval-evidence"], "grounded")
    assert [r.component for r in rows] == ["card-matching", "retrieval-evidence"]
    assert all(set(r.deltas) == {"dev"} for r in rows)
    assert report.splits["grounded"]["dev"].summary.metrics["pass_rate"].value == 1.0
