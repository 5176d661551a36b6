from __future__ import annotations

import math

import pytest

from assistant.evaluation import metrics as m
from assistant.evaluation.runner import decision_cards

from .evaluation_fakes import answer, recommendation, source, tiny_catalogue


def test_decision_recall_counts_groups_satisfied_by_any_member() -> None:
    must = [["a.x", "a.y"], ["b.z"]]
    assert m.decision_recall(must, ["a.y"]) == 0.5
    assert m.decision_recall(must, ["a.x", "b.z"]) == 1.0
    assert m.decision_recall(must, []) == 0.0
    assert m.decision_recall([], ["a.x"]) is None
    assert m.missing_groups(must, ["a.y"]) == [["b.z"]]


def test_precision_counts_must_ids_and_decisions_of_expected_documents() -> None:
    cards = decision_cards(tiny_catalogue())
    relevant = m.relevant_ids(
        [["availability.etcd-odd-members"]], ["tenancy.namespaces-per-team"], ["tenancy-models"],
        cards,
    )
    assert relevant == {"availability.etcd-odd-members", "tenancy.separate-clusters"}
    assert m.decision_precision(
        ["availability.etcd-odd-members", "availability.single-control-plane"], relevant
    ) == 0.5
    assert m.decision_precision([], relevant) is None


def test_must_not_hits_are_sorted_and_unique() -> None:
    assert m.must_not_hits(["x.a", "x.b"], ["x.b", "y.c", "x.b", "x.a"]) == ["x.a", "x.b"]
    assert m.must_not_hits([], ["x.a"]) == []


def test_citation_validity_is_share_of_citations_among_sources() -> None:
    ans = answer("q", [recommendation("availability.etcd-odd-members", ["s1", "ghost"])],
                 [source("s1", "availability/etcd-ha.md")])
    assert m.citation_validity(ans) == 0.5
    assert m.citation_validity(answer("q")) is None


def test_citation_support_by_decision_tag_document_or_key_terms() -> None:
    cards = decision_cards(tiny_catalogue())
    tagged = source("s1", "other/x.md", ["availability.etcd-odd-members"])
    same_doc = source("s2", "availability/etcd-ha.md")
    on_topic = source("s3", "elsewhere/y.md",
                      snippet="Run three etcd members, one per zone, to keep quorum.")
    off_topic = source("s4", "elsewhere/z.md", snippet="Bananas are yellow and tasty.")
    ans = answer(
        "q",
        [recommendation("availability.etcd-odd-members", ["s1", "s2", "s3", "s4"])],
        [tagged, same_doc, on_topic, off_topic],
    )
    pairs, bad = m.unsupported_citations(ans, cards)
    assert pairs == 4
    assert bad == ["availability.etcd-odd-members -> s4"]
    assert m.citation_support(ans, cards) == 0.75


def test_citation_of_unknown_decision_or_missing_source_is_unsupported() -> None:
    cards = decision_cards(tiny_catalogue())
    ans = answer("q", [recommendation("made.up", ["s1"]),
                       recommendation("availability.etcd-odd-members", ["nope"])],
                 [source("s1", "availability/etcd-ha.md", ["made.up"])])
    assert m.citation_support(ans, cards) == 0.0


def test_citation_specificity_wants_the_decisions_own_section() -> None:
    own = source("s1", "availability/etcd-ha.md", ["availability.etcd-odd-members"])
    overview = source("s2", "availability/etcd-ha.md",
                      ["availability.etcd-odd-members", "availability.stacked-etcd"])
    ans = answer(
        "q",
        [recommendation("availability.etcd-odd-members", ["s2", "s1"]),
         recommendation("availability.stacked-etcd", ["s2"])],
        [own, overview],
    )
    assert m.citation_specificity(ans) == 0.5
    assert m.citation_specificity(answer("q")) is None


def test_key_terms_drop_stop_words_and_short_words() -> None:
    assert m.key_terms("Run the etcd cluster on an odd number of members") == frozenset(
        {"etcd", "cluster", "odd", "number", "members"}
    )


def test_retrieval_metrics_on_a_known_ranking() -> None:
    ranked = m.dedupe(["d1", "d2", "d1", "d3", "d4"])
    assert ranked == ["d1", "d2", "d3", "d4"]
    expected = ["d3", "d9"]
    assert m.hit_at_k(ranked, expected, 2) == 0.0
    assert m.hit_at_k(ranked, expected, 3) == 1.0
    assert m.recall_at_k(ranked, expected, 4) == 0.5
    assert m.reciprocal_rank(ranked, expected) == pytest.approx(1 / 3)
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg_at_k(ranked, expected, 10) == pytest.approx((1 / math.log2(4)) / ideal)
    assert m.ndcg_at_k(["d3", "d9"], expected, 10) == pytest.approx(1.0)
    assert m.reciprocal_rank(ranked, ["zz"]) == 0.0
    assert m.hit_at_k(ranked, [], 3) is None


def test_document_key_accepts_per_root_and_parent_ingests() -> None:
    roots = ["kubernetes-docs", "aks-docs"]
    expected = ["kubernetes-docs/concepts/a.md"]
    assert m.document_key("concepts/a.md", roots, expected) == "kubernetes-docs/concepts/a.md"
    assert m.document_key("kubernetes-docs/concepts/a.md", roots, expected) == expected[0]
    assert m.document_key("concepts/b.md", roots, expected) == "concepts/b.md"


def test_summaries_percentiles_and_bootstrap_are_deterministic() -> None:
    values = [0.0, 1.0, 1.0, 1.0, None]
    s = m.summarize(values)
    assert s.value == 0.75 and s.n == 4
    assert s.ci_low is not None and s.ci_high is not None
    assert s.ci_low <= 0.75 <= s.ci_high
    assert m.summarize(values) == s
    assert m.summarize([None]).value is None
    assert m.percentile([1.0, 2.0, 3.0, 4.0, 100.0], 50) == 3.0
    p95 = m.summarize([float(i) for i in range(1, 101)], stat="percentile", q=95)
    assert p95.value == pytest.approx(95.05)


def test_sign_test_matches_the_exact_binomial() -> None:
    assert m.sign_test_p([1.0] * 10) == pytest.approx(2 / 1024)
    assert m.sign_test_p([1.0, -1.0]) == 1.0
    assert m.sign_test_p([0.0, 0.0]) == 1.0
    assert m.sign_test_p([]) is None


def test_paired_bootstrap_separates_consistent_shifts_from_noise() -> None:
    p_shift = m.paired_bootstrap_p([-1.0] * 30)
    assert p_shift is not None and p_shift < 0.01
    p_noise = m.paired_bootstrap_p([1.0, -1.0] * 15)
    assert p_noise is not None and p_noise > 0.5
    assert m.paired_bootstrap_p([0.0, 0.0]) == 1.0
