"""The decision engine both backends share: analyse a request (aspects, comparison,
scored candidates, whether to decline), select a diverse plan, and pick the sentence that
says why. Pure functions over the request's data; the card index and the query embedder
come with the request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import BackendError
from assistant.generation.abstain import MEANING, load_abstain
from assistant.generation.abstain import features as abstain_features
from assistant.generation.scoring import (
    Candidate,
    Query,
    Weights,
    load_weights,
    make_query,
    score,
    unknown_terms,
    with_negated,
)
from assistant.index.keyword import tokenize
from assistant.retrieval.cards import CardIndex, sentence_key, sentences
from assistant.retrieval.passages import Passage
from assistant.schemas import Confidence, Decision, PlanningProfile
from assistant.understanding.aspects import Comparison, aspect_kinds, comparison, content
from assistant.understanding.profile import (
    negated_split,
    profile_conditions,
    refuted_conditions,
    without_negated_facts,
)

if TYPE_CHECKING:
    from assistant.generation import GenerationRequest

Decline = tuple[Literal["insufficient_evidence", "out_of_scope"], str]


@dataclass(frozen=True)
class Analysis:
    query: Query
    candidates: tuple[Candidate, ...]
    conditions: dict[str, bool | None]
    decline: Decline | None
    unknown: tuple[str, ...]
    prototypes: dict[str, float]
    narrow: bool
    #: The whole question's embedding, which intent (prototype classes) is judged on.
    intent_vector: Any = None
    #: Per asking aspect (by index into ``query.aspects``): the cards scored as if that
    #: aspect, in the question's hosting context, were the whole question, best first.
    aspect_pools: tuple[tuple[int, tuple[Candidate, ...]], ...] = ()
    #: Whether each aspect asks for a decision (``False``: it states context).
    asks: tuple[bool, ...] = ()


def analyse(request: GenerationRequest, weights: Weights | None = None) -> Analysis:
    """Aspects, comparison, scored candidates and the abstention verdict of a request.
    Cached on the request: both the answer and its stream reuse one analysis."""
    cached = request.extra.get("analysis")
    if isinstance(cached, Analysis):
        return cached
    if request.cards is None or request.embed is None:
        raise BackendError(
            "the request carries no card index or query embedder.",
            "build requests through Assistant (it attaches both).",
        )
    w = weights or load_weights()
    ablations = request.ablations
    text = request.query_text or request.standalone_question
    matched, negated = card_matching_text(request, ablations)
    kinds, compared = question_kinds(request.question, request.standalone_question, ablations)
    parts = [text for text, _ in kinds]
    query = make_query(matched, parts, compared, request.embed, negated)
    structured = "negation-structure" not in ablations
    conditions = profile_conditions(request.profile, f"{request.context_text} {text}",
                                    structured)
    # What the user's words rule out, read from their turns only (not the profile
    # expansion): a negated fact is evidence against the cards that presuppose it.
    refuted = (refuted_conditions(request.context_text or request.question, structured)
               if "negation" not in ablations else frozenset())
    candidates = score(
        query, request.passages, request.catalogue, request.cards, conditions, w, ablations,
        refuted,
    )
    if request.topic is not None:
        # The card index holds every topic; the filter that kept search inside one topic
        # keeps the plan there too.
        candidates = [c for c in candidates if c.decision.topic == request.topic]
    # Whether a question is harmful or off-topic is judged on all of it: "without anyone
    # noticing" is no negated interest.
    intent = request.embed(text)
    protos = request.cards.prototype_scores(intent)
    unknown = tuple(unknown_terms(request.question, request.known))
    decline = None
    if "abstention" not in ablations:
        decline = _decline(request, candidates, protos, unknown, w, query.vector, intent)
    pools: list[tuple[int, tuple[Candidate, ...]]] = []
    if len(kinds) > 1 and "aspect-coverage" not in ablations:
        context = aspect_context(request.profile)
        for i, (part, asks) in enumerate(kinds):
            if not asks:
                continue
            sub = aspect_query(part, context)
            # The aspect is scored with the question's negated stretches too, so a card
            # matched through what the user ruled out is not re-admitted by its slot.
            local = score(make_query(sub, [sub], None, request.embed, negated),
                          request.passages,
                          request.catalogue, request.cards, conditions, w, ablations, refuted)
            if request.topic is not None:
                local = [c for c in local if c.decision.topic == request.topic]
            pools.append((i, tuple(local[:ASPECT_POOL])))
    result = Analysis(
        query=query,
        candidates=tuple(candidates),
        conditions=conditions,
        decline=decline,
        unknown=unknown,
        prototypes=protos,
        narrow=len(query.aspects) == 1 and compared is None,
        intent_vector=intent,
        aspect_pools=tuple(pools),
        asks=tuple(asks for _, asks in kinds) if len(kinds) > 1 else (True,),
    )
    request.extra["analysis"] = result
    return result


def card_matching_text(
    request: GenerationRequest, ablations: frozenset[str]
) -> tuple[str, str]:
    """What cards are matched against (the retrieval query without the stretches the user
    negated, profile words kept) and the negated words (scored as evidence against)."""
    text = request.query_text or request.standalone_question
    if "negation" in ablations:
        return text, ""
    searched = request.search_question or request.standalone_question
    expansion = text[len(searched):].strip() if text.startswith(searched) else ""
    kept, negated = _without_negated(request.standalone_question, expansion,
                                     "negation-structure" not in ablations)
    return (kept, negated) if negated else (text, "")


def searched_text(standalone: str, ablations: frozenset[str]) -> str:
    """What passage search reads: the question without every stretch the user negated or
    said has ended ("we moved off on-prem", "no longer air-gapped"), so evidence, aspects
    and cards all see the same text. Without the negation component only the negated
    profile facts leave it."""
    structured = "negation-structure" not in ablations
    if "negation" in ablations:
        return without_negated_facts(standalone, structured)
    kept, negated = negated_split(standalone, structured)
    return (kept if negated and content(kept)
            else without_negated_facts(standalone, structured))


def _without_negated(text: str, expansion: str, structured: bool = True) -> tuple[str, str]:
    kept, negated = negated_split(text, structured)
    if not negated or not content(kept):
        # Nothing negated, or nothing else said: the text as it is.
        return f"{text} {expansion}".strip(), ""
    return f"{kept} {expansion}".strip(), negated


#: Cards kept per asking aspect from its own scoring (selection takes the best one).
ASPECT_POOL = 5


def aspect_context(profile: PlanningProfile | None) -> str:
    """What every aspect is asked in: the hosting the profile names ("where secrets
    live" on aws is another question than on-prem)."""
    return " ".join(profile.hosting) if profile is not None else ""


def aspect_query(part: str, context: str) -> str:
    return f"{part} {context}".strip()


def question_kinds(
    question: str, standalone: str, ablations: frozenset[str]
) -> tuple[list[tuple[str, bool]], Comparison | None]:
    """The aspects (each with whether it asks for a decision) and the comparison of a
    question (a follow-up keeps its standalone form as one more, asking, aspect);
    negated stretches are no part of any aspect."""
    if "negation" not in ablations:
        structured = "negation-structure" not in ablations
        question = _without_negated(question, "", structured)[0]
        standalone = _without_negated(standalone, "", structured)[0]
    kinds = (aspect_kinds(question, enumerations="enumerations" not in ablations)
             if "aspects" not in ablations else [(standalone, True)])
    if len(kinds) > 1 and question != standalone:
        kinds = [(standalone, True), *kinds]
    compared = comparison(question) if "comparisons" not in ablations else None
    return kinds, compared


def question_shape(
    question: str, standalone: str, ablations: frozenset[str]
) -> tuple[list[str], Comparison | None]:
    """The aspects and the comparison of a question (see ``question_kinds``)."""
    kinds, compared = question_kinds(question, standalone, ablations)
    return [text for text, _ in kinds], compared


def texts_to_embed(
    question: str, standalone: str, ablations: frozenset[str], expansion: str = "",
    profile: PlanningProfile | None = None,
) -> list[str]:
    """What analysis will embed beside the retrieval query, so the caller can embed it
    all in one forward pass (``expansion``: the profile words added to the query;
    ``profile``: the one the answer uses, for the aspects' context)."""
    kinds, compared = question_kinds(question, standalone, ablations)
    parts = [text for text, _ in kinds]
    negation: list[str] = []
    negated = ""
    if "negation" not in ablations:
        kept, negated = _without_negated(standalone, expansion,
                                         "negation-structure" not in ablations)
        negation = [kept, negated, with_negated(kept, negated)] if negated else []
    local: list[str] = []
    if len(kinds) > 1 and "aspect-coverage" not in ablations:
        context = aspect_context(profile)
        local = [aspect_query(text, context) for text, asks in kinds if asks]
        if negated:
            local += [with_negated(text, negated) for text in local]
    return [*(parts if len(parts) > 1 else []), *(compared.options if compared else ()),
            *negation, *local]


def _decline(
    request: GenerationRequest,
    candidates: Sequence[Candidate],
    protos: dict[str, float],
    unknown: Sequence[str],
    w: Weights,
    vector: Any = None,
    intent: Any = None,
) -> Decline | None:
    top = candidates[0].probability if candidates else 0.0
    cards = protos["cards"]
    assert request.cards is not None
    if w.embedder and request.cards.embedder != w.embedder:
        # Margins on cosines and probability floors were fitted for another model (e.g.
        # the test fake gives other cosines): only the model-free checks apply, an
        # unknown name declining unless the profile speaks for the best candidate.
        if unknown and not (candidates and candidates[0].matched):
            return ("insufficient_evidence", "The knowledge base has no evidence about "
                    + ", ".join(repr(u) for u in unknown) + ".")
        # Some candidate's evidence was retrieved: the plan cites each chosen card's own
        # section (``cite_own_sections``), so the best card need not be the one whose
        # passage ranked (two identical passages are kept once, from either document).
        return None if any(c.passages for c in candidates) else (
            "insufficient_evidence", "No decision of kubeplan's catalogue fits this "
            "question well enough.")
    model = load_abstain()
    fitted = vector is not None and intent is not None and model.embedder == request.cards.embedder
    meaning = fitted and "abstention-meaning" not in request.ablations
    p_harmful = (model.classifier.probabilities(intent).get("harmful", 0.0)
                 if meaning and model.classifier is not None else 0.0)
    if (protos.get("harmful", -1.0) - cards >= w.get("margin_harmful", 0.05)
            or p_harmful >= model.harmful_threshold):
        return ("out_of_scope", "kubeplan does not help evade controls, hide resource use "
                "or attack systems.")
    if fitted:
        # The fitted abstention model (abstain.json) adds what the single margins miss:
        # several weak signals together (unknown words, live facts, a homonym far from
        # every card, a named thing nothing retrieved mentions), at the threshold that
        # declines no answerable dev question. It weighs them all, so its class goes
        # before the single margins' below.
        values = abstain_features(
            request.question, vector, request.cards, request.passages, intent, unknown,
            request.known, [c.decision.id for c in candidates], model.classifier)
        verdict = model.decide(values, () if meaning else MEANING)
        if verdict is not None:
            return _model_reason(verdict[0], protos, unknown, values if meaning else None)
    if protos.get("off_topic", -1.0) - cards >= w.get("margin_off_topic", 0.05):
        return ("out_of_scope",
                "This question is not about planning or running Kubernetes infrastructure.")
    if protos.get("private", -1.0) - cards >= w.get("margin_private", 0.05):
        return ("insufficient_evidence", "This asks about your own systems' data (incidents, "
                "bills, current state), which kubeplan's knowledge base cannot know.")
    if unknown and top < w.get("p_unknown", 0.9):
        return ("insufficient_evidence", "The knowledge base has no evidence about "
                + ", ".join(repr(u) for u in unknown) + ".")
    if top < w.get("p_answer", 0.2):
        return ("insufficient_evidence", "No decision of kubeplan's catalogue fits this "
                "question well enough.")
    return None


def _model_reason(
    status: str, protos: dict[str, float], unknown: Sequence[str],
    values: dict[str, float] | None = None,
) -> Decline:
    if status == "out_of_scope":
        # Harmful intent is the margin's (above), not the model's: out of scope here is
        # off-topic.
        return ("out_of_scope",
                "This question is not about planning or running Kubernetes infrastructure.")
    if unknown:
        return ("insufficient_evidence", "The knowledge base has no evidence about "
                + ", ".join(repr(u) for u in unknown) + ".")
    private = (values["p_private"] >= values["p_live"] if values is not None
               else protos.get("private", -1.0) >= protos.get("live", -1.0))
    if private:
        return ("insufficient_evidence", "This asks about your own systems' data (incidents, "
                "bills, current state), which kubeplan's knowledge base cannot know.")
    return ("insufficient_evidence", "This asks for facts only a vendor or the moment knows "
            "(current prices, another company's internals), which kubeplan's knowledge base "
            "does not hold.")


# --------------------------------------------------------------------------- selection

Chosen = tuple[Candidate, list[tuple[Candidate, list[str]]]]


def _alternatives(a: Decision, b: Decision) -> bool:
    return b.id in a.alternatives or a.id in b.alternatives


def _separating(c: Candidate, other: Candidate) -> list[str]:
    """Conditions that hold for ``c`` and that ``other``'s card does not also claim."""
    theirs = {w.lower() for w in other.decision.when}
    return [m for m in c.matched if m.lower() not in theirs]


def spoken_against(c: Candidate, rank_max: float = 0.0) -> bool:
    """The profile speaks only against the card: its avoid_when holds, or every
    situation its when names is ruled out, and no condition speaks for it; or the user
    ruled the card out themselves (``ruled_out_by_user``)."""
    return (bool(c.conflicts or c.ruled_out) and not c.matched) or ruled_out_by_user(
        c, rank_max)


def ruled_out_by_user(c: Candidate, rank_max: float) -> bool:
    """The user's own words rule out a situation the card's ``when`` names
    (``refuted``), the card is among the ``rank_max`` cards nearest in meaning to what
    they negated (the negation is about this card, not a side remark), and no condition
    other than hosting speaks for it (no other part of the question asks for it). Such
    a card answers a situation the user said they are not in. ``rank_max`` is fitted on
    dev (``negated_rank_max``; 0 switches the rule off)."""
    return bool(c.refuted) and c.negated_rank < rank_max and not c.backed


def limit_for(analysis: Analysis, w: Weights) -> int:
    if analysis.narrow:
        return int(w.get("limit_narrow", 2))
    n = len(analysis.query.aspects) + len(
        analysis.query.comparison.options if analysis.query.comparison else ()
    )
    return min(int(w.get("limit_max", 8)), int(w.get("limit_base", 2)) + n)


def select(
    analysis: Analysis,
    cards: CardIndex,
    ablations: frozenset[str] = frozenset(),
    weights: Weights | None = None,
) -> list[Chosen]:
    """The plan: every compared option (unless the profile rules it out and another fits),
    each aspect's leader, then the most probable rest; no near-duplicates (MMR over card
    embeddings); an alternative pair only with the condition that separates it."""
    w = weights or load_weights()
    ranked = list(analysis.candidates)
    if not ranked:
        return []
    p_min, p_leader = w.get("p_min", 0.5), w.get("p_leader", 0.3)
    duplicate = w.get("duplicate", 0.9)
    limit = limit_for(analysis, w)
    rank_max = (w.get("negated_rank_max", 0.0)
                if "negation-ruled-out" not in ablations else 0.0)
    chosen: list[Chosen] = []

    def admit(cand: Candidate, forced: bool = False) -> None:
        if any(c is cand for c, _ in chosen) or len(chosen) >= limit:
            return
        if spoken_against(cand, rank_max) and not forced:
            return  # its own card advises against it here, and nothing speaks for it
        separations: list[tuple[Candidate, list[str]]] = []
        for rival, _ in chosen:
            alt = _alternatives(rival.decision, cand.decision)
            if (not alt and "diversity" not in ablations
                    and cards.similarity(rival.decision.id, cand.decision.id) >= duplicate):
                return
            if alt:
                sep = _separating(cand, rival)
                if not sep and not forced:
                    return
                separations.append((rival, sep))
        chosen.append((cand, separations))

    options = sorted((c for c in ranked if c.option_of is not None),
                     key=lambda c: (-c.probability, c.decision.id))
    fitting = [c for c in options if not c.conflicts and not ruled_out_by_user(c, rank_max)]
    for cand in options:
        if (cand.conflicts or ruled_out_by_user(cand, rank_max)) and fitting:
            continue  # the profile settles the comparison against this option
        admit(cand, forced=True)
    # Every asking aspect whose own best card clears the fitted floor gets a slot before
    # the global fill: a card that leads one part is not crowded out by cards that only
    # echo the question's setting ("on AWS, a team of three").
    by_id = {c.decision.id: c for c in ranked}
    floor = w.get("aspect_floor", 0.3)
    for _, pool in analysis.aspect_pools:
        for local in sorted(pool, key=lambda c: (-c.probability, c.decision.id)):
            if local.probability < floor:
                break
            cand = by_id.get(local.decision.id, local)
            if spoken_against(cand, rank_max):
                continue
            before = len(chosen)
            # Forced past the alternative-pair check: two alternatives that lead two
            # different asked parts answer different questions.
            admit(cand, forced=True)
            if len(chosen) > before or any(c.decision.id == local.decision.id
                                           for c, _ in chosen):
                break
    if len(analysis.query.aspects) > 1:
        for a in range(len(analysis.query.aspects)):
            eligible = [c for c in ranked if c.probability >= p_leader]
            if eligible:
                leader = max(eligible, key=lambda c: (c.aspect_scores[a], c.decision.id))
                if leader.aspect_scores[a] >= w.get("aspect_min", 0.45):
                    admit(leader)
    for cand in ranked:
        if cand.probability < p_min:
            break
        admit(cand)
    # Probability floors hold for the model they were fitted with; under another
    # embedder (the test fake) the best supported candidate still answers.
    fitted = not w.embedder or cards.embedder == w.embedder
    floor = w.get("p_answer", 0.2) if fitted else 0.0
    supported = [c for c in ranked if c.probability >= floor]
    # The best supported card the profile does not speak against; failing that, the best
    # one even if its avoid_when seems to hold (the rationale then says to check that
    # first), rather than no answer at all.
    for cand in sorted(supported, key=lambda c: spoken_against(c, rank_max)):
        if chosen:
            break
        admit(cand, forced=True)
    return group_by_topic(chosen)


def group_by_topic(chosen: list[Chosen]) -> list[Chosen]:
    """Best first, with the recommendations of one topic together."""
    order: dict[str, float] = {}
    for cand, _ in chosen:
        t = cand.decision.topic
        order[t] = max(order.get(t, 0.0), cand.probability)
    return sorted(chosen, key=lambda pair: (-order[pair[0].decision.topic],
                                            -pair[0].probability, pair[0].decision.id))


def confidence_label(probability: float, w: Weights | None = None) -> Confidence:
    """The label from the fitted probability; cut points in weights.json (fitted so each
    label's share of correct recommendations on the dev split is as documented there)."""
    weights = w or load_weights()
    if probability >= weights.get("confidence_high", 0.75):
        return "high"
    if probability >= weights.get("confidence_medium", 0.45):
        return "medium"
    return "low"


# --------------------------------------------------------------------------- why


def why_sentence(
    passages: Sequence[Passage],
    target: Any,
    cards: CardIndex,
    focus: set[str],
    limit: int = 3,
) -> tuple[Passage, str] | None:
    """The whole sentence, among the first ``limit`` passages, nearest in meaning to
    ``target`` (the question plus the card). Sentences of the curated corpus have their
    vectors in the card index; passages from elsewhere fall back to shared words with
    ``focus`` (embedding them here would cost a forward pass per sentence)."""
    best: tuple[float, int, Passage, str] | None = None
    order = 0
    for passage in passages[:limit]:
        for s in sentences(passage.chunk.text):
            vector = cards.sentence_vectors.get(sentence_key(s))
            if vector is not None:
                sim = 1.0 + float(vector @ target)
            else:
                words = set(tokenize(s))
                sim = len(focus & words) / (len(focus) + 1.0) if words else 0.0
            order -= 1
            if best is None or (sim, order) > (best[0], best[1]):
                best = (sim, order, passage, s)
    return (best[2], best[3]) if best else None


def target_vector(query: Query, cards: CardIndex, decision_id: str) -> Any:
    import numpy as np

    v = query.vector + cards.vectors[cards.row(decision_id)]
    return v / (float(np.linalg.norm(v)) or 1.0)


def question_words(text: str) -> set[str]:
    return set(tokenize(text))
