from __future__ import annotations

import math

import pytest

from assistant.evaluation import metrics as m
from assistant.evaluation.runner import decision_cards
from assistant.schemas import PlanningProfile
from tests.evaluation_fakes import answer, recommendation, source, tiny_catalogue


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


def test_support_pairs_pair_each_claim_with_its_cited_passage() -> None:
    ans = answer(
        "q",
        [recommendation("availability.etcd-odd-members", ["s1", "ghost"])],
        [source("s1", "a.md", snippet="Run three etcd members.")],
    )
    assert m.support_pairs(ans) == [
        ("availability.etcd-odd-members", "s1", "availability.etcd-odd-members. do it",
         "Run three etcd members."),
        ("availability.etcd-odd-members", "ghost", "availability.etcd-odd-members. do it", ""),
    ]


def test_citation_support_counts_pairs_at_or_above_the_threshold() -> None:
    sims = [("a -> s1", 0.7), ("a -> s2", 0.5), ("b -> s3", 0.55)]
    value, bad = m.citation_support(sims, 0.55)
    assert value == pytest.approx(2 / 3)
    assert bad == ["a -> s2"]
    assert m.citation_support([], 0.5) == (None, [])


def test_citation_url_must_be_named_by_the_cited_sections_sources() -> None:
    cards = {
        "a.one": m.DecisionCard(id="a.one", doc_path="a.md", sources=frozenset(
            {"https://x.org/one"})),
        "a.two": m.DecisionCard(id="a.two", doc_path="a.md", sources=frozenset(
            {"https://x.org/two/"})),
    }
    doc_urls = {"a.md": frozenset({"https://x.org/doc"})}
    own = source("s1", "a.md", ["a.one"]).model_copy(update={"url": "https://x.org/one"})
    wrong = source("s2", "a.md", ["a.one"]).model_copy(update={"url": "https://x.org/doc"})
    both = source("s3", "a.md", ["a.one", "a.two"]).model_copy(
        update={"url": "https://x.org/two"})
    untagged = source("s4", "a.md").model_copy(update={"url": "https://x.org/doc"})
    uncurated = source("s5", "k8s/page.md").model_copy(update={"url": "https://else.org"})
    no_url = source("s6", "a.md", ["a.two"])
    ans = answer("q", [recommendation("a.one", ["s1", "s2", "s3", "s4", "s5", "s6"])],
                 [own, wrong, both, untagged, uncurated, no_url])
    value, bad = m.citation_url_correctness(ans, cards, doc_urls)
    # s5 is not scored (no corpus document); s2 shows its file's URL, s6 shows none.
    assert bad == ["a.one -> s2", "a.one -> s6"]
    assert value == pytest.approx(3 / 5)
    assert m.citation_url_correctness(answer("q"), cards, doc_urls) == (None, [])


def test_profile_ok_checks_expected_and_forbidden_facts() -> None:
    profile = PlanningProfile(hosting=["azure"], workloads=["stateless"], availability="low",
                              compliance=["PCI"])
    assert m.profile_ok({}, {}, profile) is None
    assert m.profile_ok({"hosting": ["azure"], "compliance": ["pci"]},
                        {"hosting": ["aws"], "workloads": ["arm"]}, profile) is True
    assert m.profile_ok({"hosting": ["aws"]}, {}, profile) is False
    assert m.profile_ok({}, {"workloads": ["stateless"]}, profile) is False
    assert m.profile_ok({"availability": "low"}, {}, profile) is True
    assert m.profile_ok({"availability": "high"}, {}, profile) is False
    assert m.profile_ok({}, {"availability": ["high"]}, profile) is True
    assert m.profile_ok({}, {"availability": ["low"]}, profile) is False
    assert m.profile_ok({"team_size": 5}, {}, profile) is False
    assert m.profile_problems({"hosting": ["aws"]}, {"availability": "low"}, profile) == [
        "hosting lacks aws", "availability has low"]
    assert m.profile_ok({"hosting": ["azure"]}, {}, None) is False


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
