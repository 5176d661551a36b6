"""A naive reference row: ``cards-cosine-top5``.

Rank every catalogue card by the cosine similarity of its embedded ``title + recommendation``
to the embedded question (the standalone question when there is history) and recommend the
top five, always ``answered`` and without citations. It is scored on decisions and status
only; a backend that does not beat it is not using its retrieval and reasoning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.evaluation import metrics as m
from assistant.evaluation.cases import Case
from assistant.evaluation.results import CaseResult
from assistant.index.embedding import Embedder
from assistant.ingest.catalogue import Catalogue
from assistant.understanding.conversation import standalone_question

REFERENCE = "cards-cosine-top5"
TOP_N = 5


def top_cards(question: np.ndarray, cards: np.ndarray, ids: Sequence[str],
              n: int = TOP_N) -> list[str]:
    """Ids of the ``n`` rows of ``cards`` most cosine-similar to ``question`` (ties by id)."""
    if not len(ids):
        return []
    rows = cards / np.maximum(np.linalg.norm(cards, axis=1, keepdims=True), 1e-12)
    sims = rows @ (question / max(float(np.linalg.norm(question)), 1e-12))
    order = sorted(range(len(ids)), key=lambda i: (-round(float(sims[i]), 6), ids[i]))
    return [ids[i] for i in order[:n]]


def score_reference(
    case: Case, recommended: Sequence[str], cards: dict[str, m.DecisionCard],
    backend: str = REFERENCE,
) -> CaseResult:
    """Decision and status metrics only (the reference row cites nothing)."""
    recs = list(recommended)
    status = "answered"
    hits = m.must_not_hits(case.must_not, recs)
    missing = m.missing_groups(case.must, recs)
    reasons = []
    if status != case.expect_status:
        reasons.append(f"status {status}, expected {case.expect_status}")
    if missing:
        reasons.append("missing " + "; ".join(" or ".join(g) for g in missing))
    if hits:
        reasons.append("recommended must_not " + ", ".join(hits))
    relevant = m.relevant_ids(case.must, case.must_not, case.expect_sources, cards)
    return CaseResult(
        case_id=case.id, backend=backend, question=case.question, tags=case.tags,
        topics=case.topics, expect_status=case.expect_status, split=case.split,
        suite=case.suite, variant_of=case.variant_of, must=case.must, status=status,
        passed=not reasons, reasons=reasons,
        scores={
            "pass_rate": 0.0 if reasons else 1.0,
            "decision_recall": m.decision_recall(case.must, recs),
            "decision_precision": m.decision_precision(recs, relevant),
            "must_not_rate": (1.0 if hits else 0.0) if case.must_not else None,
            "status_accuracy": 1.0 if status == case.expect_status else 0.0,
        },
        recommended=recs, missing=missing, must_not_hits=hits,
    )


class CardsCosine:
    """The pseudo-backend: card vectors embedded once with the assistant's embedder."""

    def __init__(self, embedder: Embedder, catalogue: Catalogue, n: int = TOP_N) -> None:
        decisions = catalogue.by_topic()
        self.ids = [d.id for d in decisions]
        texts = [f"{d.title}. {d.recommendation}" for d in decisions]
        # Short texts one at a time: the numpy query encoder needs no torch threads.
        self.vectors = np.asarray([embedder.embed_query(t) for t in texts], dtype=np.float32)
        self.embedder = embedder
        self.n = n

    def recommend(self, case: Case) -> list[str]:
        question = standalone_question(case.question, tuple(case.history))
        vec = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        return top_cards(vec, self.vectors, self.ids, self.n)
