"""Test doubles for the eval harness: a tiny catalogue and a scripted assistant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.config import Settings
from assistant.ingest.catalogue import Catalogue, CorpusDocument, build_catalogue
from assistant.schemas import (
    AnswerMeta,
    CorpusFrontMatter,
    Decision,
    PlanAnswer,
    PlanningProfile,
    Recommendation,
    Source,
    Turn,
)


def _decision(did: str, title: str, rec: str, alternatives: Sequence[str] = ()) -> Decision:
    return Decision(
        id=did, title=title, recommendation=rec, when=["production"], tradeoffs=["cost"],
        alternatives=list(alternatives), sources=["https://example.org/doc"],
    )


def _doc(doc_id: str, topic: str, path: str, decisions: list[Decision]) -> CorpusDocument:
    meta = CorpusFrontMatter(
        id=doc_id, title=f"Doc {doc_id}", topic=topic,  # type: ignore[arg-type]
        summary="A summary long enough for the validator.", applies_to="any",
        reviewed=dt.date(2026, 11, 28),
        sources=[{"title": "Page", "url": "https://example.org/p"}],  # type: ignore[list-item]
        decisions=[
            d.model_copy(update={"topic": topic, "doc_id": doc_id}) for d in decisions
        ],
    )
    return CorpusDocument(path=path, meta=meta, body="")


def tiny_catalogue() -> Catalogue:
    return build_catalogue([
        _doc("etcd-ha", "availability", "availability/etcd-ha.md", [
            _decision("availability.etcd-odd-members", "Run three or five etcd members",
                      "Run three etcd members across three zones for quorum."),
            _decision("availability.single-control-plane", "Single control plane node",
                      "Run one control plane node for labs and test clusters only."),
        ]),
        _doc("tenancy-models", "tenancy", "tenancy/tenancy-models.md", [
            _decision("tenancy.separate-clusters", "Separate clusters per tenant",
                      "Give regulated tenants their own clusters for isolation.",
                      ["tenancy.namespaces-per-team"]),
            _decision("tenancy.namespaces-per-team", "Namespaces per team",
                      "Share a cluster and give each team its own namespaces.",
                      ["tenancy.separate-clusters"]),
        ]),
    ])


def source(sid: str, path: str, decisions: Sequence[str] = (), snippet: str = "text") -> Source:
    return Source(id=sid, title=path, path=path, snippet=snippet, score=1.0,
                  decision_ids=list(decisions))


def recommendation(decision_id: str, citations: Sequence[str]) -> Recommendation:
    return Recommendation(
        decision_id=decision_id, title=decision_id, recommendation="do it", rationale="because",
        confidence="high", citations=list(citations),
    )


def answer(
    question: str,
    recs: Sequence[Recommendation] = (),
    sources: Sequence[Source] = (),
    status: str = "answered",
    backend: str = "grounded",
    standalone: str | None = None,
) -> PlanAnswer:
    return PlanAnswer(
        question=question, status=status, summary="s",  # type: ignore[arg-type]
        recommendations=list(recs), sources=list(sources), backend=backend,
        meta=AnswerMeta(standalone_question=standalone),
    )


Script = Callable[[str, str], PlanAnswer]


class FakeAssistant:
    """Answers by a script ``(question, backend) -> PlanAnswer``; retrieval from a fixed table."""

    def __init__(
        self,
        script: Script,
        ranked: dict[str, list[str]] | None = None,
        corpus_dir: Path | None = None,
    ) -> None:
        self.settings = Settings(embedder="fake", corpus_dir=corpus_dir or Path("."),
                                 _env_file=None)  # type: ignore[call-arg]
        self.script = script
        self.ranked = ranked or {}
        self.asked: list[tuple[str, str | None, int, PlanningProfile | None]] = []
        self.retrieved: list[tuple[str, int | None, str | None]] = []

    def ask(self, question: str, history: Sequence[Turn] | None = None,
            profile: PlanningProfile | None = None, backend: str | None = None) -> PlanAnswer:
        self.asked.append((question, backend, len(history or []), profile))
        return self.script(question, backend or "grounded")

    def retrieve(self, query: str, k: int | None = None, topic: str | None = None,
                 collection: str | None = None) -> list[Source]:
        self.retrieved.append((query, k, collection))
        paths = self.ranked.get(query, [])[: k or 10]
        return [source(f"r{i}", p) for i, p in enumerate(paths)]

    def catalogue(self, topic: str | None = None) -> list[Decision]:
        return tiny_catalogue().by_topic(topic)
