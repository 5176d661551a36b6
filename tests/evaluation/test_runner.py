from __future__ import annotations

import pytest

from assistant.errors import BackendUnavailableError
from assistant.evaluation import Case, RetrievalSet, run_eval, run_retrieval_eval
from assistant.schemas import PlanAnswer, Turn
from tests.evaluation_fakes import FakeAssistant, answer, recommendation, source, tiny_catalogue

ETCD = "availability/etcd-ha.md"

CASES = [
    Case(id="etcd", question="how many etcd members", must=[["availability.etcd-odd-members"]],
         must_not=["availability.single-control-plane"], expect_sources=["etcd-ha"],
         tags=["availability", "short"]),
    Case(id="cook", question="recipe for lasagna", expect_status="out_of_scope",
         tags=["out-of-scope"]),
    Case(id="follow", question="and with five?", tags=["availability", "multi-turn"],
         history=[Turn(role="user", content="how many etcd members")],
         must=[["availability.etcd-odd-members"]], expect_sources=["etcd-ha"]),
]


def good(question: str, backend: str) -> PlanAnswer:
    if "lasagna" in question:
        return answer(question, status="out_of_scope", backend=backend)
    return answer(
        question,
        [recommendation("availability.etcd-odd-members", ["s1"])],
        [source("s1", ETCD, ["availability.etcd-odd-members"])],
        backend=backend,
        standalone="etcd members five" if question.startswith("and") else None,
    )


def bad(question: str, backend: str) -> PlanAnswer:
    if "lasagna" in question:
        return answer(question, [recommendation("availability.single-control-plane", ["s9"])],
                      [source("s9", ETCD)], backend=backend)
    return answer(
        question,
        [recommendation("availability.single-control-plane", ["s2", "ghost"])],
        [source("s2", ETCD)],
        backend=backend,
    )


def script(question: str, backend: str) -> PlanAnswer:
    return good(question, backend) if backend == "good" else bad(question, backend)


RANKED = {
    "how many etcd members": ["other.md", ETCD],
    "etcd members five": [ETCD],
    "and with five?": ["other.md"],
}


def test_run_eval_scores_each_backend_side_by_side() -> None:
    fake = FakeAssistant(script, RANKED)
    calls: list[tuple[int, int, str]] = []
    report = run_eval(fake, CASES, ["good", "bad"], catalogue=tiny_catalogue(),
                      progress=lambda d, t, label: calls.append((d, t, label)))
    assert report.backends == ["good", "bad", "cards-cosine-top5"]
    assert report.references == ["cards-cosine-top5"]
    assert [c[0] for c in calls] == list(range(1, 7)) and calls[-1][1] == 6
    good_s, bad_s = report.summaries["good"], report.summaries["bad"]
    assert good_s.passed == 3 and good_s.failing == []
    assert bad_s.passed == 0
    assert good_s.metrics["decision_recall"].value == 1.0
    assert bad_s.metrics["decision_recall"].value == 0.0
    assert good_s.metrics["must_not_rate"].value == 0.0
    assert bad_s.metrics["must_not_rate"].value == 1.0
    assert good_s.metrics["citation_validity"].value == 1.0
    assert bad_s.metrics["citation_validity"].value == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert good_s.by_status["out_of_scope"].value == 1.0
    assert bad_s.by_status["out_of_scope"].value == 0.0
    assert set(good_s.by_topic) == {"availability"}
    assert good_s.by_topic["availability"]["cases"] == 2.0
    assert set(good_s.by_tag) == {"short", "out-of-scope", "multi-turn"}


def test_retrieval_uses_the_standalone_question_of_follow_ups() -> None:
    fake = FakeAssistant(script, RANKED)
    report = run_eval(fake, CASES, ["good"], catalogue=tiny_catalogue(), k=5)
    by_id = {r.case_id: r for r in report.results_of("good")}
    assert by_id["etcd"].scores["mrr"] == 0.5
    assert by_id["follow"].scores["mrr"] == 1.0
    assert ("etcd members five", 5, None) in fake.retrieved
    # Out-of-scope cases expect no sources: nothing to retrieve.
    assert all(q != "recipe for lasagna" for q, _, _ in fake.retrieved)
    assert fake.asked[2][2] == 1  # history passed on


def test_failing_case_lists_its_reasons() -> None:
    report = run_eval(FakeAssistant(script, RANKED), CASES[:1], ["bad"],
                      catalogue=tiny_catalogue())
    result = report.results[0]
    assert not result.passed
    assert result.missing == [["availability.etcd-odd-members"]]
    assert result.must_not_hits == ["availability.single-control-plane"]
    assert any("not among its sources" in r for r in result.reasons)
    assert result.answer is not None and result.recommended == [
        "availability.single-control-plane"
    ]


def test_a_crashing_case_fails_alone_and_a_dead_backend_stops_the_run() -> None:
    def crashy(question: str, backend: str) -> PlanAnswer:
        if "lasagna" in question:
            raise RuntimeError("boom")
        return good(question, backend)

    report = run_eval(FakeAssistant(crashy, RANKED), CASES, ["x"], catalogue=tiny_catalogue())
    crashed = [r for r in report.results if r.error]
    assert [r.case_id for r in crashed] == ["cook"]
    assert crashed[0].status == "error" and not crashed[0].passed
    assert report.summaries["x"].errors == 1 and report.summaries["x"].passed == 2

    def dead(question: str, backend: str) -> PlanAnswer:
        raise BackendUnavailableError("no key", "set OPENAI_API_KEY")

    with pytest.raises(BackendUnavailableError):
        run_eval(FakeAssistant(dead), CASES, ["llm"], catalogue=tiny_catalogue())


def test_retrieval_eval_matches_root_prefixed_expectations() -> None:
    rset = RetrievalSet.model_validate({
        "name": "mini",
        "roots": ["kubernetes-docs", "aks-docs"],
        "cases": [
            {"id": "q1", "question": "pdb", "expect": ["kubernetes-docs/concepts/pdb.md"]},
            {"id": "q2", "question": "cni", "expect": ["aks-docs/aks/cni.md"]},
        ],
    })
    fake = FakeAssistant(script, {"pdb": ["x.md", "concepts/pdb.md"],
                                  "cni": ["kubernetes-docs/x.md"]})
    report = run_retrieval_eval(fake, rset, collection="docs", k=3)
    assert report.kind == "retrieval"
    s = report.summaries["retrieval"]
    assert s.metrics["hit_at_k"].value == 0.5
    assert s.metrics["mrr"].value == 0.25
    assert s.failing == ["q2"]
    assert fake.retrieved[:2] == [("pdb", 1, "docs"), ("pdb", 3, "docs")]  # warm-up, then timed
