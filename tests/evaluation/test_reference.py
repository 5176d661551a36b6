"""The cards-cosine-top5 reference row."""

from __future__ import annotations

import numpy as np

from assistant.evaluation import Case
from assistant.evaluation.reference import CardsCosine, score_reference, top_cards
from assistant.evaluation.runner import decision_cards
from assistant.index.embedding import FakeEmbedder
from assistant.schemas import Turn
from tests.evaluation_fakes import tiny_catalogue


def test_top_cards_rank_by_cosine_and_break_ties_by_id() -> None:
    cards = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [0.0, 3.0]])
    ids = ["a", "b", "c", "d"]
    assert top_cards(np.array([0.0, 1.0]), cards, ids, n=3) == ["b", "d", "c"]
    assert top_cards(np.array([1.0, 0.0]), cards, ids, n=1) == ["a"]
    assert top_cards(np.array([1.0, 0.0]), np.zeros((0, 2)), [], n=5) == []


def test_cards_cosine_recommends_the_closest_cards_of_the_standalone_question() -> None:
    pseudo = CardsCosine(FakeEmbedder(dimension=256), tiny_catalogue(), n=1)
    case = Case(id="c", question="Separate clusters per tenant for regulated tenants?")
    assert pseudo.recommend(case) == ["tenancy.separate-clusters"]
    follow = Case(id="f", question="and how many?",
                  history=[Turn(role="user", content="three etcd members across zones quorum")])
    assert pseudo.recommend(follow) == ["availability.etcd-odd-members"]


def test_reference_scores_decisions_and_status_only() -> None:
    cards = decision_cards(tiny_catalogue())
    case = Case(id="c", question="q", must=[["tenancy.separate-clusters"]],
                must_not=["tenancy.namespaces-per-team"], split="heldout", suite="negation")
    good = score_reference(case, ["tenancy.separate-clusters", "x.y"], cards)
    assert good.passed and good.scores["decision_recall"] == 1.0
    assert good.scores["decision_precision"] == 0.5
    assert "citation_support" not in good.scores and good.status == "answered"
    assert (good.split, good.suite) == ("heldout", "negation")
    bad = score_reference(case, ["tenancy.namespaces-per-team"], cards)
    assert not bad.passed and bad.scores["must_not_rate"] == 1.0
    decline = Case(id="d", question="our bill?", expect_status="insufficient_evidence")
    assert score_reference(decline, [], cards).scores["status_accuracy"] == 0.0
