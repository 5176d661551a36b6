"""The ``grounded`` backend: offline, deterministic answers from the decision catalogue.

The shared engine (``engine.analyse``) scores each decision card by its dense and BM25
match to the question and its aspects, the retrieved passages that explain it and the
profile's fit with its ``when``/``avoid_when``, through a logistic model fitted on the
development split; ``engine.select`` keeps a diverse plan sized to the question. This
module composes the answer from the cards and the cited passages, never invented.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from assistant.generation import GenerationRequest, sources_event, text_tokens, unique_sources
from assistant.generation.engine import (
    Analysis,
    Chosen,
    analyse,
    confidence_label,
    question_words,
    select,
    target_vector,
    why_sentence,
)
from assistant.generation.scoring import Candidate
from assistant.retrieval.passages import Passage
from assistant.schemas import (
    AnswerEvent,
    AnswerMeta,
    PlanAnswer,
    PlanningProfile,
    Recommendation,
    Source,
)
from assistant.understanding.profile import VOCABULARY, open_question, vocabulary_terms

NAME = "grounded"


def rationale(
    c: Candidate,
    separations: list[tuple[Candidate, list[str]]],
    why: tuple[Passage, str] | None,
) -> str:
    parts = []
    if c.matched:
        parts.append("Fits this situation: " + "; ".join(c.matched) + ".")
    else:
        parts.append(f"Directly addresses the question ({c.decision.title.lower()}).")
    for rival, sep in separations:
        if sep:
            parts.append(
                f"Recommended beside {rival.decision.title!r} because of: {'; '.join(sep)}; "
                f"where that does not hold, prefer {rival.decision.title!r}."
            )
        else:
            parts.append(
                f"You named both this and {rival.decision.title!r}: choose this when "
                f"{'; '.join(c.decision.when[:2])}; choose {rival.decision.title!r} when "
                f"{'; '.join(rival.decision.when[:2])}."
            )
    if c.conflicts:
        parts.append("Check first: the guidance advises against it when " +
                     "; ".join(c.conflicts) + ".")
    if why is not None:
        passage, sentence = why
        where = " > ".join(passage.chunk.heading_path) or passage.chunk.title
        parts.append(f"From \u201c{where}\u201d: {sentence}")
    return " ".join(parts)


def own_section(passage: Passage, decision_id: str) -> bool:
    return list(passage.chunk.decision_ids) == [decision_id]


def cite_own_sections(cands: Sequence[Candidate], request: GenerationRequest) -> None:
    """Put each decision's own section first among its passages when search only found
    passages of its document that carry several decisions (an overview, a pitfalls
    list): the citation then points at the text that explains the decision.
    Call after scoring and confidence; a looked-up section adds no evidence."""
    missing = [
        c for c in cands if not any(own_section(p, c.decision.id) for p, _ in c.passages)
    ]
    if request.lookup is None or not missing:
        return
    # One lookup for all of them: each call checks the keyword index is current.
    found = request.lookup([c.decision.id for c in missing])
    for c in missing:
        mine = [p for p in found if own_section(p, c.decision.id)]
        if mine:
            c.passages.insert(0, (mine[0], 0.0))


def citations_for(c: Candidate) -> list[Passage]:
    """Passages tied to the decision's own section first; at most three."""
    chosen = [p for p, _ in c.passages][:3]
    return chosen


def open_questions(
    ranked: Sequence[Candidate], conditions: dict[str, bool | None], limit: int = 3
) -> list[str]:
    """Profile facts that the leading candidates depend on and that are still unknown."""
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for cand in ranked[:6]:
        for item in [*cand.decision.when, *cand.decision.avoid_when]:
            for term in vocabulary_terms(item):
                if conditions.get(term) is None:
                    dim = VOCABULARY[term]
                    counts[dim] += 1
                    order.setdefault(dim, len(order))
    dims = sorted(counts, key=lambda d: (-counts[d], order[d]))
    return [open_question(d) for d in dims[:limit]]


def describe_profile(profile: PlanningProfile) -> str:
    bits: list[str] = []
    if profile.hosting:
        bits.append("hosting " + ", ".join(profile.hosting))
    if profile.workloads:
        bits.append("workloads " + ", ".join(profile.workloads))
    if profile.team_size:
        bits.append(f"team of {profile.team_size}")
    if profile.k8s_experience:
        bits.append(f"{profile.k8s_experience} Kubernetes experience")
    if profile.compliance:
        bits.append("compliance " + ", ".join(profile.compliance))
    if profile.isolation:
        bits.append(f"{profile.isolation} isolation needs")
    if profile.availability:
        bits.append(f"{profile.availability} availability target")
    if profile.budget_sensitivity:
        bits.append(f"{profile.budget_sensitivity} cost sensitivity")
    if profile.regions:
        bits.append("regions " + ", ".join(profile.regions))
    return "; ".join(bits)


def summary_line(chosen: Sequence[Chosen], analysis: Analysis) -> str:
    """One or two sentences that answer the question directly."""
    lead = chosen[0][0]
    options = [c for c, _ in chosen if c.option_of is not None]
    rejected = [
        c for c in analysis.candidates
        if c.option_of is not None and c.conflicts and all(c is not o for o in options)
    ]
    if len(options) >= 2:
        first, others = options[0], options[1:]
        because = f" ({'; '.join(first.matched)})" if first.matched else ""
        alt = "; ".join(
            f"{_quoted(o)} when {'; '.join(o.decision.when[:2])}" for o in others
        )
        return f"Lean towards {_quoted(first)}{because}; {alt}."
    if options and rejected:
        first = options[0]
        return (
            f"{_quoted(first)} fits better here; "
            + "; ".join(
                f"{_quoted(r)} is advised against when {'; '.join(r.conflicts)}"
                for r in rejected
            )
            + "."
        )
    because = f" because of: {'; '.join(lead.matched)}" if lead.matched else ""
    return f"Start with {_quoted(lead)}{because}."


def _quoted(candidate: Candidate) -> str:
    # Card titles are imperatives ("Run three etcd members"): lower-cased into a sentence
    # they read as broken grammar ("start with run three ..."), quoted they read as names.
    return f"\u201c{candidate.decision.title}\u201d"


def compose(request: GenerationRequest) -> PlanAnswer:
    analysis = analyse(request)
    meta = AnswerMeta(standalone_question=request.standalone_question)
    if analysis.decline is not None:
        return declined(request, analysis, meta)
    assert request.cards is not None
    chosen = select(analysis, request.cards, request.ablations)
    if not chosen:
        return insufficient(request, analysis, meta)
    recommendations: list[Recommendation] = []
    sources: list[Source] = []
    cite_own_sections([cand for cand, _ in chosen], request)
    # A card with no passage at all (its section is not in this collection) cannot be cited.
    chosen = [pair for pair in chosen if pair[0].passages]
    if not chosen:
        return insufficient(request, analysis, meta)
    for cand, separations in chosen:
        cited = citations_for(cand)
        why = why_sentence(
            cited, target_vector(analysis.query, request.cards, cand.decision.id),
            request.cards, question_words(f"{request.standalone_question} "
                                          f"{cand.decision.title}"),
        )
        if why is not None and why[0] in cited:
            cited = [why[0], *[p for p in cited if p is not why[0]]]
        cited_sources = [p.to_source() for p in cited]
        sources.extend(cited_sources)
        recommendations.append(
            Recommendation(
                decision_id=cand.decision.id,
                title=cand.decision.title,
                recommendation=cand.decision.recommendation,
                rationale=rationale(cand, separations, why),
                tradeoffs=list(cand.decision.tradeoffs),
                confidence=confidence_label(cand.probability),
                probability=round(cand.probability, 4),
                citations=[s.id for s in cited_sources],
            )
        )
    summary = summary_line(chosen, analysis)
    if len(recommendations) > 1:
        summary += " Plan: " + "; ".join(
            f"{r.title} ({r.decision_id.split('.', 1)[0]})" for r in recommendations
        ) + "."
    described = describe_profile(request.profile)
    if described:
        summary += f" (Planning profile used: {described}.)"
    return PlanAnswer(
        question=request.question,
        status="answered",
        summary=summary,
        recommendations=recommendations,
        open_questions=open_questions(analysis.candidates, analysis.conditions),
        sources=unique_sources(sources),
        profile=request.profile,
        backend=NAME,
        meta=meta,
    )


def declined(request: GenerationRequest, analysis: Analysis, meta: AnswerMeta) -> PlanAnswer:
    from assistant.generation import out_of_scope_answer

    assert analysis.decline is not None
    status, reason = analysis.decline
    if status == "out_of_scope":
        return out_of_scope_answer(
            request.question, NAME, request.profile, reason, request.standalone_question
        )
    return PlanAnswer(
        question=request.question,
        status="insufficient_evidence",
        summary=reason + " Rephrase with the decision you face (for example sizing, hosting, "
        "tenancy or secrets); the nearest passages are listed as sources.",
        open_questions=[],
        sources=[p.to_source() for p in request.passages[:3]],
        profile=request.profile,
        backend=NAME,
        meta=meta,
    )


def insufficient(
    request: GenerationRequest, analysis: Analysis, meta: AnswerMeta
) -> PlanAnswer:
    ranked = analysis.candidates
    if ranked:
        best = ranked[0].decision
        missing = (
            f"The knowledge base has no decision that fits this question well enough; "
            f"the closest is {best.title!r} ({best.id})."
        )
    else:
        missing = "Nothing in the knowledge base matches this question."
    return PlanAnswer(
        question=request.question,
        status="insufficient_evidence",
        summary=missing + " Rephrase with the decision you face (for example sizing, hosting, "
        "tenancy or secrets) or add details about your situation; the nearest passages are "
        "listed as sources.",
        open_questions=open_questions(ranked, analysis.conditions),
        sources=[p.to_source() for p in request.passages[:3]],
        profile=request.profile,
        backend=NAME,
        meta=meta,
    )


def answer_text(answer: PlanAnswer) -> str:
    """The answer as prose, for streaming to a chat window."""
    lines = [answer.summary]
    for i, rec in enumerate(answer.recommendations, 1):
        lines.append(f"\n\n{i}. {rec.title} ({rec.confidence} confidence): {rec.recommendation}")
    return "".join(lines)


class GroundedGenerator:
    """Deterministic: the same request gives the same answer."""

    @property
    def name(self) -> str:
        return NAME

    def generate(self, request: GenerationRequest) -> PlanAnswer:
        return compose(request)

    def stream(self, request: GenerationRequest) -> Iterator[AnswerEvent]:
        yield sources_event(request.passages)
        answer = compose(request)
        for token in text_tokens(answer_text(answer)):
            yield AnswerEvent(kind="token", text=token)
        yield AnswerEvent(kind="answer", answer=answer)
