"""Run eval cases over backends (answers) or over a collection (retrieval).

Scoring (``score_answer``, ``score_retrieval``) is pure; ``run_eval`` and
``run_retrieval_eval`` do the calls, time them and report progress.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, cast

from assistant.config import Settings
from assistant.errors import BackendError, ConfigError, ModelMissingError, StoreError
from assistant.evaluation import metrics as m
from assistant.evaluation.aggregate import summarize_backend, summarize_splits
from assistant.evaluation.cases import Case, RetrievalSet
from assistant.evaluation.reference import REFERENCE, CardsCosine, score_reference
from assistant.evaluation.results import (
    ANSWER_METRICS,
    LATENCY,
    RETRIEVAL_METRICS,
    CaseResult,
    EvalReport,
)
from assistant.evaluation.support import SupportJudge, load_threshold
from assistant.index.embedding import Embedder
from assistant.index.query_encoder import fast_query_embedder
from assistant.ingest.catalogue import Catalogue, load_catalogue
from assistant.schemas import TOPICS, Decision, PlanAnswer, PlanningProfile, Source, Turn

Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``, called after each case."""

#: Errors that would hit every case the same way: stop the run instead of scoring them.
FATAL_ERRORS: tuple[type[Exception], ...] = (BackendError, StoreError, ModelMissingError,
                                             ConfigError)


class AnswerSource(Protocol):
    """What the runner needs from ``Assistant`` (fakes implement it in tests)."""

    settings: Settings

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
    ) -> PlanAnswer: ...

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        topic: str | None = None,
        collection: str | None = None,
    ) -> list[Source]: ...

    def catalogue(self, topic: str | None = None) -> list[Decision]: ...


def decision_cards(catalogue: Catalogue) -> dict[str, m.DecisionCard]:
    """Cards for the support metric: the carrying document and the key terms of each decision."""
    cards = {}
    for d in catalogue.decisions.values():
        doc = catalogue.documents.get(d.doc_id)
        cards[d.id] = m.DecisionCard(
            id=d.id,
            doc_path=doc.path if doc else "",
            doc_id=d.doc_id,
            terms=m.key_terms(f"{d.title} {d.recommendation}"),
            sources=frozenset(d.sources),
        )
    return cards


def document_urls(catalogue: Catalogue) -> dict[str, frozenset[str]]:
    """Curated document path -> the URLs its front matter lists."""
    return {
        doc.path: frozenset(s.url for s in doc.meta.sources)
        for doc in catalogue.documents.values()
    }


def document_paths(catalogue: Catalogue) -> dict[str, str]:
    """Corpus document id -> its path relative to the corpus folder (as sources name it)."""
    return {doc_id: doc.path for doc_id, doc in catalogue.documents.items()}


def score_answer(
    case: Case,
    answer: PlanAnswer | None,
    *,
    backend: str,
    cards: Mapping[str, m.DecisionCard],
    doc_paths: Mapping[str, str],
    ranked_paths: Sequence[str] = (),
    k: int = 10,
    latency_ms: float = 0.0,
    error: str | None = None,
    support: Sequence[tuple[str, float]] | None = None,
    support_threshold: float = 0.0,
    doc_urls: Mapping[str, frozenset[str]] | None = None,
) -> CaseResult:
    """Score one answer against its case; pure. ``support`` holds the best-sentence
    similarity of each citation pair (``decision -> source id``, from ``SupportJudge``);
    without it citation support is undefined."""
    expected = [doc_paths.get(d, d) for d in case.expect_sources]
    base = CaseResult(
        case_id=case.id,
        backend=backend,
        question=case.question,
        tags=case.tags,
        topics=case.topics,
        expect_status=case.expect_status,
        split=case.split,
        suite=case.suite,
        variant_of=case.variant_of,
        must=case.must,
        profile_ok=m.profile_ok(case.expect_profile, case.forbid_profile, None),
        passed=False,
        expected_sources=expected,
        latency_ms=latency_ms,
    )
    if answer is None:
        return base.model_copy(
            update={
                "status": "error",
                "error": error or "no answer",
                "reasons": [f"error: {error or 'no answer'}"],
                "scores": {
                    "pass_rate": 0.0,
                    "status_accuracy": 0.0,
                    "decision_recall": m.decision_recall(case.must, []),
                    "must_not_rate": 0.0 if case.must_not else None,
                },
            }
        )
    recommended = [r.decision_id for r in answer.recommendations]
    relevant = m.relevant_ids(case.must, case.must_not, case.expect_sources, cards)
    hits = m.must_not_hits(case.must_not, recommended)
    missing = m.missing_groups(case.must, recommended)
    validity = m.citation_validity(answer)
    support_value, unsupported = (
        (None, []) if support is None else m.citation_support(support, support_threshold)
    )
    url_value, wrong_urls = m.citation_url_correctness(answer, cards, doc_urls or {})
    profile_ok = m.profile_ok(case.expect_profile, case.forbid_profile, answer.profile)
    ranked = m.dedupe(ranked_paths)
    status_ok = answer.status == case.expect_status
    reasons = []
    if not status_ok:
        reasons.append(f"status {answer.status}, expected {case.expect_status}")
    if missing:
        reasons.append("missing " + "; ".join(" or ".join(g) for g in missing))
    if hits:
        reasons.append("recommended must_not " + ", ".join(hits))
    if validity is not None and validity < 1.0:
        reasons.append("cites passages that are not among its sources")
    if profile_ok is False:
        problems = m.profile_problems(case.expect_profile, case.forbid_profile, answer.profile)
        reasons.append("profile: " + "; ".join(problems))
    scores: dict[str, float | None] = {
        "pass_rate": 0.0 if reasons else 1.0,
        "decision_recall": m.decision_recall(case.must, recommended),
        "decision_precision": m.decision_precision(recommended, relevant),
        "must_not_rate": (1.0 if hits else 0.0) if case.must_not else None,
        "status_accuracy": 1.0 if status_ok else 0.0,
        "citation_validity": validity,
        "citation_support": support_value,
        "citation_specificity": m.citation_specificity(answer),
        "citation_url_correctness": url_value,
        "profile_ok": None if profile_ok is None else float(profile_ok),
        "sources_recall": m.sources_recall(expected, (s.path for s in answer.sources)),
        "hit_at_k": m.hit_at_k(ranked, expected, k),
        "recall_at_k": m.recall_at_k(ranked, expected, k),
        "mrr": m.reciprocal_rank(ranked, expected),
        "ndcg_at_10": m.ndcg_at_k(ranked, expected, 10),
        LATENCY: latency_ms,
    }
    return base.model_copy(
        update={
            "status": answer.status,
            "passed": not reasons,
            "reasons": reasons,
            "scores": scores,
            "recommended": recommended,
            "confidences": [r.confidence for r in answer.recommendations],
            "probabilities": [_probability(r) for r in answer.recommendations],
            "profile_ok": profile_ok,
            "missing": missing,
            "must_not_hits": hits,
            "unsupported": unsupported,
            "wrong_urls": wrong_urls,
            "retrieved": ranked[:k],
            "answer": answer,
        }
    )


def _probability(rec: object) -> float | None:
    """A numeric ``probability`` of a recommendation, when the schema has one."""
    value = getattr(rec, "probability", None)
    return float(value) if isinstance(value, int | float) else None


def score_retrieval(
    case_id: str,
    question: str,
    expected: Sequence[str],
    ranked_keys: Sequence[str],
    *,
    k: int = 10,
    tags: Sequence[str] = (),
    latency_ms: float = 0.0,
) -> CaseResult:
    """Score one retrieval question; pure. It passes when an expected document is in the top k."""
    ranked = m.dedupe(ranked_keys)
    hit = m.hit_at_k(ranked, expected, k)
    return CaseResult(
        case_id=case_id,
        backend="retrieval",
        question=question,
        tags=list(tags),
        topics=[t for t in tags if t in TOPICS],
        passed=hit == 1.0,
        reasons=[] if hit == 1.0 else [f"no expected document in the top {k}"],
        scores={
            "pass_rate": hit,
            "hit_at_k": hit,
            "recall_at_k": m.recall_at_k(ranked, expected, k),
            "mrr": m.reciprocal_rank(ranked, expected),
            "ndcg_at_10": m.ndcg_at_k(ranked, expected, 10),
            LATENCY: latency_ms,
        },
        retrieved=ranked[:k],
        expected_sources=list(expected),
        latency_ms=latency_ms,
    )


def _version() -> str:
    from assistant import __version__

    return __version__


def assistant_embedder(assistant: AnswerSource) -> Embedder:
    """The assistant's own embedder (the ``Assistant`` API), else one from its settings."""
    found = getattr(assistant, "embedder", None)
    if found is not None:
        return cast(Embedder, found)
    from assistant.index.embedding import make_embedder

    return make_embedder(assistant.settings)


def ask_case(
    assistant: AnswerSource, case: Case, backend: str
) -> tuple[PlanAnswer | None, str | None, float]:
    """(answer or None, error, latency in ms); errors that would hit every case re-raise."""
    start = time.perf_counter()
    try:
        answer = assistant.ask(
            case.question, history=case.history or None, profile=case.profile, backend=backend
        )
        return answer, None, (time.perf_counter() - start) * 1000.0
    except FATAL_ERRORS:
        raise
    except Exception as exc:  # one broken case must not sink a long run
        return None, f"{type(exc).__name__}: {exc}", (time.perf_counter() - start) * 1000.0


def run_eval(
    assistant: AnswerSource,
    cases: Sequence[Case],
    backends: Iterable[str] | None = None,
    *,
    k: int = 10,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
    cases_file: str | None = None,
    embedder: Embedder | None = None,
    support_threshold: float | None = None,
    reference: bool = True,
    score_support: bool = True,
) -> EvalReport:
    """Ask every case on every backend and score the answers.

    Retrieval metrics use ``assistant.retrieve`` on the question the backend answered
    (``meta.standalone_question`` for follow-ups). Errors that would repeat for every
    case (backend unavailable, store missing) are raised; other errors fail that case.
    Citation support embeds with ``embedder`` (default: the assistant's); ``reference``
    adds the ``cards-cosine-top5`` row computed with the same embedder; ``score_support``
    False leaves citation support undefined (ablation runs, which only need decisions).
    """
    names = list(backends or [assistant.settings.backend])
    cat = catalogue or load_catalogue(assistant.settings.corpus_dir)
    cards = decision_cards(cat)
    paths = document_paths(cat)
    urls = document_urls(cat)
    emb = embedder or assistant_embedder(assistant)
    threshold = load_threshold().threshold if support_threshold is None else support_threshold
    fast = fast_query_embedder(emb)
    judge = SupportJudge(fast, threshold)
    results: list[CaseResult] = []
    total = len(cases) * len(names)
    done = 0
    if cases:
        # Loading the model and the indexes is not answer latency: pay for it before timing.
        assistant.retrieve(cases[0].question, k=1)
    for backend in names:
        for case in cases:
            answer, error, latency = ask_case(assistant, case, backend)
            ranked: list[str] = []
            similarities: list[tuple[str, float]] | None = None
            if answer is not None:
                if case.expect_sources and score_support:
                    query = answer.meta.standalone_question or case.question
                    ranked = [s.path for s in assistant.retrieve(query, k=k)]
                if score_support:
                    pairs = m.support_pairs(answer)
                    sims = judge.similarities([(claim, text) for _, _, claim, text in pairs])
                    similarities = [
                        (f"{did} -> {sid}", sim)
                        for (did, sid, _, _), sim in zip(pairs, sims, strict=True)
                    ]
            results.append(
                score_answer(
                    case, answer, backend=backend, cards=cards, doc_paths=paths,
                    ranked_paths=ranked, k=k, latency_ms=latency, error=error,
                    support=similarities, support_threshold=threshold, doc_urls=urls,
                )
            )
            done += 1
            if progress:
                progress(done, total, f"{backend}: {case.id}")
    refs: list[str] = []
    if reference and cases:
        pseudo = CardsCosine(fast, cat)
        results += [score_reference(c, pseudo.recommend(c), cards) for c in cases]
        refs = [REFERENCE]
    return build_report(
        results, [*names, *refs], refs, cases_file=cases_file,
        collection=assistant.settings.collection, k=k,
    )


def build_report(
    results: Sequence[CaseResult],
    backends: Sequence[str],
    references: Sequence[str] = (),
    *,
    cases_file: str | None = None,
    collection: str | None = None,
    k: int = 10,
) -> EvalReport:
    """The report of scored results: summaries over all cases and per split."""
    return EvalReport(
        kind="answers",
        created=dt.datetime.now(dt.UTC),
        version=_version(),
        cases_file=cases_file,
        collection=collection,
        k=k,
        backends=list(backends),
        references=list(references),
        summaries={
            b: summarize_backend(b, [r for r in results if r.backend == b], ANSWER_METRICS)
            for b in backends
        },
        splits={
            b: summarize_splits(b, [r for r in results if r.backend == b]) for b in backends
        },
        results=list(results),
    )


def run_retrieval_eval(
    assistant: AnswerSource,
    rset: RetrievalSet,
    *,
    collection: str | None = None,
    k: int = 10,
    progress: Progress | None = None,
    cases_file: str | None = None,
) -> EvalReport:
    """Retrieve for every question of ``rset`` in ``collection`` and score the ranking."""
    results = []
    assistant.retrieve(rset.cases[0].question, k=1, collection=collection)
    for i, case in enumerate(rset.cases, start=1):
        start = time.perf_counter()
        sources = assistant.retrieve(case.question, k=k, collection=collection)
        latency = (time.perf_counter() - start) * 1000.0
        keys = [m.document_key(s.path, rset.roots, case.expect) for s in sources]
        results.append(
            score_retrieval(
                case.id, case.question, case.expect, keys, k=k, tags=case.tags,
                latency_ms=latency,
            )
        )
        if progress:
            progress(i, len(rset.cases), case.id)
    return EvalReport(
        kind="retrieval",
        created=dt.datetime.now(dt.UTC),
        version=_version(),
        cases_file=cases_file or rset.name,
        collection=collection or assistant.settings.collection,
        k=k,
        backends=["retrieval"],
        summaries={"retrieval": summarize_backend("retrieval", results, RETRIEVAL_METRICS)},
        results=results,
    )
