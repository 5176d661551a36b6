"""The ``grounded`` backend: offline, deterministic answers from the decision catalogue.

Retrieved passages vote for the decisions they explain (their ``decision_ids``); each
decision is scored by that evidence, by how well its card matches the question, and by
how the planning profile meets the card's ``when`` and ``avoid_when`` conditions. The
answer is composed from the cards and the cited passages, never invented.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..catalogue import Catalogue
from ..keyword import tokenize
from ..profile import (
    VOCABULARY,
    display,
    open_question,
    profile_conditions,
    vocabulary_terms,
)
from ..retrieval import Passage
from ..schemas import (
    AnswerEvent,
    AnswerMeta,
    Confidence,
    Decision,
    PlanAnswer,
    PlanningProfile,
    Recommendation,
    Source,
)
from ..scope import with_synonyms
from . import GenerationRequest, matching_text, sources_event, text_tokens, unique_sources

NAME = "grounded"

# Weights of the decision score; tuned on evals/cases.yaml (see evals/README.md).
W_EVIDENCE = 1.0
W_CARD = 1.3
W_COVER = 0.25
W_MATCH = 0.3
W_CONFLICT = 1.0
W_HOSTING_MISMATCH = 0.6
#: A passage inside a decision's own section counts fully; a passage of the document that
#: merely carries the decision (overview, pitfalls) counts this much.
DOCUMENT_TIE = 0.35
#: A decision's own section, looked up because its card matches, counts as this much evidence.
LOOKUP_EVIDENCE = 0.3
#: Cards matching the question at least this much are looked up, at most CARD_POOL of them.
CARD_POOL_MIN = 0.3
CARD_POOL = 4
#: A decision needs at least this score to be recommended...
THRESHOLD = 0.55
#: ...and this share of the best decision's score.
RELATIVE = 0.62
#: ...and must speak to this share of the question (card or passage words).
MIN_SUPPORT = 0.15
MAX_RECOMMENDATIONS = 4
MAX_MULTI_PART = 6
#: A part's best candidate must match that part at least this much (card + evidence).
PART_MIN = 0.45
FREE_TEXT_OVERLAP = 0.6


@dataclass
class Candidate:
    decision: Decision
    evidence: float = 0.0
    card: float = 0.0
    coverage: float = 0.0
    fit: float = 0.0
    passages: list[tuple[Passage, float]] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    hosting_mismatch: bool = False

    @property
    def score(self) -> float:
        return W_EVIDENCE * self.evidence + W_CARD * self.card + W_COVER * self.coverage + self.fit

    @property
    def support(self) -> float:
        """How much of the question the card or its best passage speaks to."""
        return max(self.card, self.coverage)

    @property
    def best_passage(self) -> Passage:
        return self.passages[0][0]


# --------------------------------------------------------------------------- card match


@dataclass(frozen=True)
class CardIndex:
    """Token sets of each decision card and the IDF of every token across cards."""

    tokens: dict[str, frozenset[str]]
    idf: dict[str, float]


def card_text(d: Decision) -> str:
    return " ".join([d.title, d.title, d.recommendation, " ".join(d.when), d.id.split(".")[1]])


def build_card_index(catalogue: Catalogue) -> CardIndex:
    tokens = {d.id: frozenset(tokenize(card_text(d))) for d in catalogue.by_topic()}
    df: Counter[str] = Counter()
    for toks in tokens.values():
        df.update(toks)
    n = max(len(tokens), 1)
    idf = {t: math.log(1 + n / c) for t, c in df.items()}
    return CardIndex(tokens=tokens, idf=idf)


_CARD_INDEXES: dict[int, tuple[Catalogue, CardIndex]] = {}


def card_index(catalogue: Catalogue) -> CardIndex:
    """The card index of ``catalogue``, built once per catalogue object (an Assistant
    loads its catalogue once, so this is once per process in practice)."""
    cached = _CARD_INDEXES.get(id(catalogue))
    if cached is None or cached[0] is not catalogue:
        if len(_CARD_INDEXES) > 8:
            _CARD_INDEXES.clear()
        cached = (catalogue, build_card_index(catalogue))
        _CARD_INDEXES[id(catalogue)] = cached
    return cached[1]


#: Question words that say how people ask, not what about; ignored when matching cards.
FILLER: frozenset[str] = frozenset(
    tokenize(
        "many much need needs use using best good better way ways get make want like run "
        "running set go take recommend recommendation option options approach right ok okay "
        "please thing things kind give between really actually currently today now new "
        "start look looking plan planning setup set-up choose pick decide think"
    )
)


def coverage(
    question_tokens: Sequence[str], tokens: frozenset[str] | set[str], index: CardIndex
) -> float:
    """Share of the question's (IDF-weighted) words found in ``tokens``."""
    q = set(question_tokens) - FILLER
    if not q:
        return 0.0
    # Words no card uses ('we', 'company') weigh like the rarest card word.
    default = max(index.idf.values(), default=1.0)
    total = sum(index.idf.get(t, default) for t in q)
    return sum(index.idf.get(t, default) for t in q & tokens) / total if total else 0.0


def card_match(question_tokens: Sequence[str], decision_id: str, index: CardIndex) -> float:
    """Share of the question's (IDF-weighted) words that the decision card contains."""
    return coverage(question_tokens, index.tokens.get(decision_id, frozenset()), index)


# --------------------------------------------------------------------------- conditions


def _free_text_hit(condition: str, question_tokens: set[str]) -> bool:
    tokens = set(tokenize(condition))
    if not tokens:
        return False
    return len(tokens & question_tokens) / len(tokens) >= FREE_TEXT_OVERLAP


def assess_conditions(
    c: Candidate, conditions: dict[str, bool | None], question_tokens: set[str]
) -> None:
    """Fill the candidate's matched conditions, conflicts and fit score.

    Vocabulary conditions count once each however many card items name them; free-text
    conditions count when the question uses most of their words.
    """
    d = c.decision
    hosting_terms: list[str] = []
    hosting_hit = False
    matched: dict[str, str] = {}
    for item in d.when:
        terms = vocabulary_terms(item)
        if terms:
            for term in terms:
                if VOCABULARY[term] == "hosting":
                    hosting_terms.append(term)
                    hosting_hit = hosting_hit or conditions.get(term) is True
                if conditions.get(term) is True:
                    matched.setdefault(term, display(term))
        elif _free_text_hit(item, question_tokens):
            matched.setdefault(item.lower(), item)
    conflicts: dict[str, str] = {}
    for item in d.avoid_when:
        terms = vocabulary_terms(item)
        if terms:
            for term in terms:
                if conditions.get(term) is True:
                    conflicts.setdefault(term, display(term))
        elif _free_text_hit(item, question_tokens):
            conflicts.setdefault(item.lower(), item)
    c.matched = list(matched.values())
    c.conflicts = list(conflicts.values())
    hosting_known = any(conditions.get(t) is not None for t in hosting_terms)
    c.hosting_mismatch = bool(hosting_terms) and hosting_known and not hosting_hit
    c.fit = (
        W_MATCH * min(len(c.matched), 3)
        - W_CONFLICT * min(len(c.conflicts), 2)
        - (W_HOSTING_MISMATCH if c.hosting_mismatch else 0.0)
    )


# --------------------------------------------------------------------------- scoring


def gather_candidates(
    passages: Sequence[Passage], catalogue: Catalogue, *, evidence: bool = True
) -> dict[str, Candidate]:
    """Decisions the retrieved passages explain, with each passage's weight for them."""
    candidates: dict[str, Candidate] = {}
    for passage in passages:
        ids = [i for i in passage.chunk.decision_ids if catalogue.get(i) is not None]
        if not ids:
            continue
        tie = 1.0 if len(ids) == 1 else DOCUMENT_TIE
        strength = passage.score if passage.score > 0 else LOOKUP_EVIDENCE
        for did in ids:
            decision = catalogue.get(did)
            assert decision is not None
            cand = candidates.setdefault(did, Candidate(decision=decision))
            cand.passages.append((passage, strength * tie))
    for cand in candidates.values():
        cand.passages.sort(key=lambda pw: (-pw[1], pw[0].chunk.id))
        weights = [w for _, w in cand.passages]
        # The `retrieval-evidence` ablation keeps the candidates but not their votes.
        cand.evidence = sum(w * 0.5**i for i, w in enumerate(weights[:3])) if evidence else 0.0
    return candidates


def card_candidates(
    request: GenerationRequest,
    question_tokens: Sequence[str],
    conditions: dict[str, bool | None],
    index: CardIndex,
    exclude: set[str],
) -> list[str]:
    """Decisions whose cards match the question and profile best, among those search
    did not surface: their own sections are looked up as evidence."""
    qset = set(question_tokens)
    scored = []
    for d in request.catalogue.by_topic():
        if d.id in exclude:
            continue
        card = card_match(question_tokens, d.id, index)
        if card < CARD_POOL_MIN:
            continue
        probe = Candidate(decision=d)
        assess_conditions(probe, conditions, qset)
        scored.append((W_CARD * card + probe.fit, d.id))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [did for value, did in scored[:CARD_POOL] if value >= CARD_POOL_MIN]


def rank_candidates(request: GenerationRequest) -> list[Candidate]:
    """Every supported decision, best first (ties broken by id: deterministic)."""
    question_tokens = tokenize(matching_text(request))
    off = request.ablations
    conditions = {} if "profile-fit" in off else profile_conditions(
        request.profile, f"{request.context_text} {request.standalone_question}"
    )
    index = card_index(request.catalogue)
    passages = list(request.passages)
    cards_on = "card-matching" not in off
    if request.lookup is not None and cards_on:
        found = {d for p in passages for d in p.chunk.decision_ids}
        wanted = card_candidates(request, question_tokens, conditions, index, found)
        if is_multi_part(request.question):
            for part in question_parts(request.question):
                tokens = part_tokens(part, "synonyms" not in off)
                more = card_candidates(request, tokens, conditions, index, found)
                wanted += [d for d in more[:2] if d not in wanted]
        if wanted:
            seen = {p.chunk.id for p in passages}
            passages += [p for p in request.lookup(wanted) if p.chunk.id not in seen]
    candidates = gather_candidates(
        passages, request.catalogue, evidence="retrieval-evidence" not in off
    )
    # Free-text when/avoid_when conditions are part of the profile fit too.
    qset = set() if "profile-fit" in off else set(question_tokens)
    passage_cover: dict[str, float] = {}
    for cand in candidates.values():
        cand.card = card_match(question_tokens, cand.decision.id, index) if cards_on else 0.0
        best = 0.0
        for passage, _ in cand.passages:
            cid = passage.chunk.id
            if cid not in passage_cover:
                text = f"{' '.join(passage.chunk.heading_path)} {passage.chunk.text}"
                passage_cover[cid] = coverage(question_tokens, set(tokenize(text)), index)
            tie = 1.0 if len(passage.chunk.decision_ids) == 1 else DOCUMENT_TIE * 2
            best = max(best, passage_cover[cid] * tie)
        cand.coverage = best
        assess_conditions(cand, conditions, qset)
    return sorted(candidates.values(), key=lambda c: (-c.score, c.decision.id))


def is_multi_part(question: str) -> bool:
    return question.count("?") >= 2 or len(question_parts(question)) >= 2


_PART_SPLIT = re.compile(
    r"\?\s*|;\s*|\s+-\s+|\s*,\s*(?:and\s+)?(?=(?:how|what|which|where|when|should|do|can)\b)"
    r"|\s+(?:and|also|plus)\s+(?=(?:how|what|which|where|when|should|do|can|to|our)\b)",
    re.IGNORECASE,
)


def part_tokens(part: str, synonyms: bool = True) -> list[str]:
    """A part's words plus the corpus's words for them (as the whole question gets)."""
    return tokenize(with_synonyms(part, enabled=synonyms))


def question_parts(question: str) -> list[str]:
    """The sub-questions of a multi-part question (each with a content word)."""
    parts = [p.strip() for p in _PART_SPLIT.split(question) if p and p.strip()]
    return [p for p in parts if set(tokenize(p)) - FILLER]


def part_leaders(
    ranked: Sequence[Candidate],
    parts: Sequence[str],
    index: CardIndex,
    ablations: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """For each part of the question, the candidate that answers that part best."""
    leaders: list[Candidate] = []
    for part in parts:
        tokens = part_tokens(part, "synonyms" not in ablations)
        cards_on = "card-matching" not in ablations
        best: tuple[float, str] | None = None
        leader: Candidate | None = None
        for cand in ranked:
            if cand.score < THRESHOLD:
                continue
            card = card_match(tokens, cand.decision.id, index) if cards_on else 0.0
            key = (card + 0.3 * cand.evidence, cand.decision.id)
            if best is None or key > best:
                best, leader = key, cand
        if leader is not None and best is not None and best[0] >= PART_MIN:
            leaders.append(leader)
    return leaders


def _alternatives(a: Decision, b: Decision) -> bool:
    return b.id in a.alternatives or a.id in b.alternatives


def _separating(c: Candidate, other: Candidate) -> list[str]:
    """Conditions that hold for ``c`` and that ``other``'s card does not also claim."""
    theirs = {w.lower() for w in other.decision.when}
    return [m for m in c.matched if m.lower() not in theirs]


def select(
    ranked: Sequence[Candidate], question: str, leaders: Sequence[Candidate] = ()
) -> list[tuple[Candidate, list[tuple[Candidate, list[str]]]]]:
    """The recommended candidates, each with the alternatives it is recommended beside
    and the conditions that separate them. ``leaders`` (the best candidate of each part
    of a multi-part question) are admitted early, so every part gets an answer."""
    if not ranked:
        return []
    top = ranked[0].score
    multi = is_multi_part(question)
    limit = MAX_MULTI_PART if multi else MAX_RECOMMENDATIONS
    chosen: list[tuple[Candidate, list[tuple[Candidate, list[str]]]]] = []

    def admit(cand: Candidate) -> None:
        if any(c is cand for c, _ in chosen):
            return
        separations: list[tuple[Candidate, list[str]]] = []
        for rival in [c for c, _ in chosen if _alternatives(c.decision, cand.decision)]:
            sep = _separating(cand, rival)
            if not sep:
                return
            separations.append((rival, sep))
        chosen.append((cand, separations))

    def eligible(cand: Candidate) -> bool:
        if cand.score < THRESHOLD:
            return False
        if cand.support < MIN_SUPPORT and not cand.matched:
            return False
        return not (cand.conflicts and not cand.matched)

    if eligible(ranked[0]):
        admit(ranked[0])
    for cand in leaders if multi else ():
        if len(chosen) < limit and eligible(cand):
            admit(cand)
    for cand in ranked:
        if len(chosen) >= limit or cand.score < RELATIVE * top:
            break
        if eligible(cand):
            admit(cand)
    chosen.sort(key=lambda pair: (-pair[0].score, pair[0].decision.id))
    return chosen


# --------------------------------------------------------------------------- composing

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"(])")


def best_sentence(text: str, focus: set[str], limit: int = 320) -> str:
    """The passage sentence sharing most words with the question and the decision."""
    clean = re.sub(r"\s+", " ", re.sub(r"[#*_>`|]+", " ", text)).strip()
    sentences = [s.strip() for s in _SENTENCE.split(clean) if len(s.split()) >= 5]
    # A chunk may start inside a sentence (overlap); whole sentences read better.
    whole = [s for s in sentences if s[:1].isupper() or s[:1].isdigit()]
    sentences = whole or sentences
    if not sentences:
        return ""
    scored = [(len(focus & set(tokenize(s))), -i, s) for i, s in enumerate(sentences)]
    best = max(scored)[2]
    return best if len(best) <= limit else best[: limit - 1].rstrip() + "…"


def confidence(c: Candidate) -> Confidence:
    section_level = len(c.best_passage.chunk.decision_ids) == 1
    if c.conflicts or c.hosting_mismatch:
        return "low"
    if section_level and c.score >= 1.15 and c.card >= 0.25:
        return "high"
    if c.score >= 0.8:
        return "medium"
    return "low"


def rationale(
    c: Candidate,
    separations: list[tuple[Candidate, list[str]]],
    focus: set[str],
) -> str:
    parts = []
    if c.matched:
        parts.append("Fits this situation: " + "; ".join(c.matched) + ".")
    else:
        parts.append(f"Directly addresses the question ({c.decision.title.lower()}).")
    for rival, sep in separations:
        parts.append(
            f"Recommended beside {rival.decision.title!r} because of: {'; '.join(sep)}; "
            f"where that does not hold, prefer {rival.decision.title!r}."
        )
    if c.conflicts:
        parts.append("Check first: the guidance advises against it when " +
                     "; ".join(c.conflicts) + ".")
    passage = c.best_passage
    sentence = best_sentence(passage.chunk.text, focus)
    if sentence:
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


def compose(request: GenerationRequest) -> PlanAnswer:
    ranked = rank_candidates(request)
    parts = question_parts(request.question) if is_multi_part(request.question) else []
    leaders = (
        part_leaders(ranked, parts, card_index(request.catalogue), request.ablations)
        if parts else []
    )
    chosen = select(ranked, request.question, leaders)
    conditions = profile_conditions(
        request.profile, f"{request.context_text} {request.standalone_question}"
    )
    meta = AnswerMeta(standalone_question=request.standalone_question)
    if not chosen:
        return insufficient(request, ranked, meta)
    focus = set(tokenize(matching_text(request)))
    recommendations: list[Recommendation] = []
    sources: list[Source] = []
    levels = {cand.decision.id: confidence(cand) for cand, _ in chosen}
    cite_own_sections([cand for cand, _ in chosen], request)
    for cand, separations in chosen:
        cited = citations_for(cand)
        cited_sources = [p.to_source() for p in cited]
        sources.extend(cited_sources)
        recommendations.append(
            Recommendation(
                decision_id=cand.decision.id,
                title=cand.decision.title,
                recommendation=cand.decision.recommendation,
                rationale=rationale(cand, separations, focus | set(tokenize(cand.decision.title))),
                tradeoffs=list(cand.decision.tradeoffs),
                confidence=levels[cand.decision.id],
                citations=[s.id for s in cited_sources],
            )
        )
    first = recommendations[0]
    summary = f"{first.title}: {first.recommendation}"
    if len(recommendations) > 1:
        summary += " Also consider: " + "; ".join(r.title for r in recommendations[1:]) + "."
    described = describe_profile(request.profile)
    if described:
        summary += f" (Planning profile used: {described}.)"
    return PlanAnswer(
        question=request.question,
        status="answered",
        summary=summary,
        recommendations=recommendations,
        open_questions=open_questions(ranked, conditions),
        sources=unique_sources(sources),
        profile=request.profile,
        backend=NAME,
        meta=meta,
    )


def insufficient(
    request: GenerationRequest, ranked: Sequence[Candidate], meta: AnswerMeta
) -> PlanAnswer:
    nearest = [p.to_source() for p in request.passages[:3]]
    if ranked:
        best = ranked[0].decision
        missing = (
            f"The knowledge base has no decision that the retrieved passages support "
            f"strongly enough; the closest is {best.title!r} ({best.id})."
        )
    elif request.passages:
        missing = (
            "The retrieved passages do not explain any decision of kubeplan's catalogue, so "
            "there is nothing grounded to recommend."
        )
    else:
        missing = "Nothing in the knowledge base matches this question."
    conditions = profile_conditions(
        request.profile, f"{request.context_text} {request.standalone_question}"
    )
    return PlanAnswer(
        question=request.question,
        status="insufficient_evidence",
        summary=missing + " Rephrase with the decision you face (for example sizing, hosting, "
        "tenancy or secrets) or add details about your situation; the nearest passages are "
        "listed as sources.",
        open_questions=open_questions(ranked, conditions),
        sources=nearest,
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
