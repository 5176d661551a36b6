"""Decision scoring shared by both backends: a candidate pool from the card index and
the retrieved passages, one feature vector per candidate, and the fitted logistic model
(``weights.json``, written by ``python -m assistant.evaluation.fit``) that turns it into
a probability.

Features (all for one question and one decision card):

- ``dense``/``dense_gap``: MiniLM cosine of the question with the card, and its distance
  to the best card's; ``bm25``: BM25 of the question against the cards (0..1 of the best);
- ``aspect_dense``/``aspect_bm25``/``aspect_top``: the same for the question's best
  aspect, and whether the card leads an aspect;
- ``evidence``/``own_section``: votes of retrieved passages that explain the decision;
- ``match``/``conflict``/``hosting_mismatch``: the card's ``when``/``avoid_when`` against
  the profile (``profile_conditions`` and its vocabulary);
- ``refuted``: how many situations of the card's ``when`` the user's own words rule out
  (negated or ended: "we no longer have Windows apps" refutes "Windows workloads"; or
  the opposite stated: "one production cluster" refutes "many clusters"), cloud vendors
  left to ``hosting_mismatch``; ``refuted_named``: the same times the card's match with
  the question (cosine + BM25), so a card the question names ("Do we need a fleet
  manager?") loses when the facts argue against it: the facts, not the wording, decide;
- ``option``: the card is an option the question names in a comparison;
- ``learned``/``aspect_learned``/``learned_rank``: the card model learned from the
  catalogue's own texts (``assistant/card_model.py``): the card's log-probability given
  the question (clipped at ``LEARNED_FLOOR``, scaled to 0..1), the best over the aspects,
  and 1/(1+rank) of the card under it;
- ``negated_dense``/``negated_bm25``: how much better the card matches the stretches the
  user negated ("we don't use Vault") than the rest of the question (all other features
  see the question without them); ``negated_when``/``negated_avoid``: the share of the
  words found only in negated stretches that the card's title and ``when`` (what it
  presupposes) or its ``avoid_when`` (what speaks against it) use. Matching what the
  user negated says nothing by itself (it is often the topic, "HA is not a
  requirement"); which side of the card it falls on does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from assistant.index.keyword import tokenize
from assistant.ingest.catalogue import Catalogue
from assistant.retrieval.cards import CardIndex
from assistant.retrieval.passages import Passage
from assistant.schemas import Decision
from assistant.understanding.aspects import Comparison, content
from assistant.understanding.profile import VOCABULARY, display, vocabulary_terms

FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "bm25",
    "aspect_dense",
    "aspect_bm25",
    "aspect_top",
    "rank",
    "aspect_rank",
    "evidence",
    "evidence_rel",
    "own_section",
    "match",
    "conflict",
    "hosting_mismatch",
    "refuted",
    "refuted_named",
    "option",
    "learned",
    "aspect_learned",
    "learned_rank",
    "negated_dense",
    "negated_bm25",
    "negated_when",
    "negated_avoid",
    "negated_lift",
    "negated_lift_bm25",
    "negated_lift_learned",
    "negated_nearest",
)

#: Features that may only count against a card (their fitted weights are kept ≤ 0): what
#: the user negated is never evidence for a card.
AGAINST: tuple[str, ...] = ("negated_dense", "negated_bm25", "negated_when", "refuted",
                            "refuted_named", "negated_lift", "negated_lift_bm25",
                            "negated_lift_learned", "negated_nearest")

#: The features that measure how much a card's match depends on what the user negated
#: (``negation_dependence``); ``fit`` also fits them on its catalogue augmentation.
DEPENDENCE: tuple[str, ...] = ("negated_lift", "negated_lift_bm25", "negated_lift_learned",
                               "negated_nearest")

#: Features each ablation switches off (set to zero before the model reads them).
ABLATED: dict[str, tuple[str, ...]] = {
    "card-retrieval": ("dense", "dense_gap", "bm25", "aspect_dense", "aspect_bm25",
                       "aspect_top", "rank", "aspect_rank"),
    "passage-evidence": ("evidence", "evidence_rel", "own_section"),
    "profile-fit": ("match", "conflict", "hosting_mismatch", "refuted",
                    "refuted_named"),
    "comparisons": ("option",),
    "learned-cards": ("learned", "aspect_learned", "learned_rank"),
    "negation": ("negated_dense", "negated_bm25", "negated_when", "negated_avoid", "refuted",
                 "refuted_named", *DEPENDENCE),
    "negation-dependence": DEPENDENCE,
}

#: Features whose zero is not "no information": the learned ones are a scaled
#: log-probability, where 0 means "surely not this card", so switching them off by zeroing
#: would push every card down. Switched off, they read their mean over the fit's rows
#: (the same for every card: the ranking then comes from the other features alone).
NEUTRAL_WHEN_ABLATED: tuple[str, ...] = ("learned", "aspect_learned", "learned_rank")

#: A passage of the decision's own section counts fully; one of its document that carries
#: several decisions (an overview, a pitfalls list) counts this much.
DOCUMENT_TIE = 0.35
#: Cards scored per question: the best by card match, plus every card passages explain.
POOL = 30
POOL_PER_ASPECT = 5
#: Hosting terms a mismatch of is ``hosting_mismatch``, not ``refuted``.
CLOUD_VENDORS = frozenset({"aws", "azure", "gcp"})
#: Cards added to the pool by the learned card model: for the question, and per aspect.
POOL_LEARNED = 5
POOL_LEARNED_PER_ASPECT = 3
#: Log-probabilities below this say only "not this card": clipped, then scaled to 0..1.
LEARNED_FLOOR = -20.0
#: A free-text condition holds when the question uses this share of its words.
FREE_TEXT_OVERLAP = 0.6


@dataclass(frozen=True)
class Weights:
    coef: dict[str, float]
    bias: float
    settings: dict[str, float]
    #: The embedding model the thresholds on cosines were fitted with.
    embedder: str = ""
    #: Mean of each feature over the fit's rows: what ``NEUTRAL_WHEN_ABLATED`` features
    #: read when their component is switched off.
    means: dict[str, float] = field(default_factory=dict)

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.coef.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def get(self, name: str, default: float) -> float:
        return float(self.settings.get(name, default))


def weights_path() -> Any:
    return resources.files("assistant.generation").joinpath("weights.json")


@cache
def load_weights() -> Weights:
    data = json.loads(weights_path().read_text(encoding="utf-8"))
    return Weights(
        coef={k: float(v) for k, v in data["coef"].items()},
        bias=float(data["bias"]),
        settings={k: float(v) for k, v in data.get("settings", {}).items()},
        embedder=str(data.get("embedder", "")),
        means={k: float(v) for k, v in data.get("means", {}).items()},
    )


@dataclass
class Candidate:
    decision: Decision
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0
    passages: list[tuple[Passage, float]] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    #: The profile rules out every situation the card's ``when`` names (and none holds).
    ruled_out: bool = False
    #: The situations of the card's ``when`` that the user's facts rule out.
    refuted: list[str] = field(default_factory=list)
    aspect_scores: list[float] = field(default_factory=list)
    option_of: int | None = None
    #: A condition other than hosting speaks for the card (the user asked for what it is
    #: for, not only named where they run).
    backed: bool = False
    #: The card's rank (0 = nearest) among all cards under what the user negated;
    #: infinite when nothing was negated.
    negated_rank: float = math.inf

    @property
    def best_passage(self) -> Passage | None:
        return self.passages[0][0] if self.passages else None


@dataclass(frozen=True)
class Query:
    """What scoring needs of a question: its text and vector, its aspects' texts and
    vectors, and the comparison it makes (if any)."""

    text: str
    vector: Any
    aspects: tuple[str, ...]
    aspect_vectors: tuple[Any, ...]
    comparison: Comparison | None = None
    option_vectors: tuple[Any, ...] = ()
    #: The stretches of the question the user negated, and their vector.
    negated: str = ""
    negated_vector: Any = None
    #: The text with its negated stretches put back, and its vector: how a card matches
    #: it beyond ``vector`` is what its match owes to what the user negated.
    full_vector: Any = None
    full_text: str = ""


def make_query(
    text: str,
    aspect_texts: Sequence[str],
    comparison: Comparison | None,
    embed: Callable[[str], Any],
    negated: str = "",
) -> Query:
    vector = embed(text)
    many = len(aspect_texts) > 1
    vectors = tuple(embed(a) for a in aspect_texts) if many else (vector,)
    options = comparison.options if comparison else ()
    return Query(
        text=text,
        vector=vector,
        aspects=tuple(aspect_texts) if many else (text,),
        aspect_vectors=vectors,
        comparison=comparison,
        option_vectors=tuple(embed(o) for o in options),
        negated=negated,
        negated_vector=embed(negated) if negated else None,
        full_vector=embed(with_negated(text, negated)) if negated else None,
        full_text=with_negated(text, negated) if negated else "",
    )


def with_negated(text: str, negated: str) -> str:
    """``text`` with the negated stretches put back (what the user said, all of it)."""
    return f"{text} {negated}".strip()


# --------------------------------------------------------------------------- conditions


def _free_text_hit(condition: str, question_tokens: set[str]) -> bool:
    tokens = set(tokenize(condition))
    return bool(tokens) and len(tokens & question_tokens) / len(tokens) >= FREE_TEXT_OVERLAP


def assess_conditions(
    c: Candidate, conditions: dict[str, bool | None], question_tokens: set[str],
    refuted: frozenset[str] = frozenset(),
) -> tuple[int, int, bool]:
    """Matched and conflicting conditions of the card; counts and hosting mismatch.
    ``refuted``: the conditions the user's own words rule out (``refuted_conditions``)."""
    d = c.decision
    hosting_terms: list[str] = []
    hosting_hit = False
    matched: dict[str, str] = {}
    for item in d.when:
        terms = vocabulary_terms(item)
        for term in terms:
            if VOCABULARY[term] == "hosting":
                hosting_terms.append(term)
                hosting_hit = hosting_hit or conditions.get(term) is True
            if conditions.get(term) is True:
                matched.setdefault(term, display(term))
        if not terms and _free_text_hit(item, question_tokens):
            matched.setdefault(item.lower(), item)
    conflicts: dict[str, str] = {}
    for item in d.avoid_when:
        terms = vocabulary_terms(item)
        for term in terms:
            if conditions.get(term) is True:
                conflicts.setdefault(term, display(term))
        if not terms and _free_text_hit(item, question_tokens):
            conflicts.setdefault(item.lower(), item)
    c.matched = list(matched.values())
    c.backed = any(VOCABULARY.get(k) != "hosting" for k in matched)
    c.conflicts = list(conflicts.values())
    c.refuted = [
        item for item in d.when
        if (terms := [t for t in vocabulary_terms(item) if t not in CLOUD_VENDORS])
        and all(t in refuted for t in terms)
    ]
    # A condition without vocabulary terms may still hold, so only a ``when`` made
    # entirely of known-false terms rules the card out.
    c.ruled_out = bool(d.when) and not c.matched and all(
        (terms := vocabulary_terms(item)) and all(conditions.get(t) is False for t in terms)
        for item in d.when
    )
    known = any(conditions.get(t) is not None for t in hosting_terms)
    mismatch = bool(hosting_terms) and known and not hosting_hit
    return len(c.matched), len(c.conflicts), mismatch


# --------------------------------------------------------------------------- evidence


def passage_votes(passages: Sequence[Passage], catalogue: Catalogue) -> dict[str, list[
        tuple[Passage, float]]]:
    """Each decision's passages with their weight: retrieval score, full for the
    decision's own section and ``DOCUMENT_TIE`` for a passage shared by several."""
    votes: dict[str, list[tuple[Passage, float]]] = {}
    for passage in passages:
        ids = [i for i in passage.chunk.decision_ids if catalogue.get(i) is not None]
        tie = 1.0 if len(ids) == 1 else DOCUMENT_TIE
        for did in ids:
            votes.setdefault(did, []).append((passage, max(passage.score, 0.0) * tie))
    for found in votes.values():
        found.sort(key=lambda pw: (-pw[1], pw[0].chunk.id))
    return votes


def evidence(weighted: Sequence[tuple[Passage, float]]) -> float:
    return sum(w * 0.5**i for i, (_, w) in enumerate(weighted[:3]))


# --------------------------------------------------------------------------- scoring


#: Cards per option considered when mapping a comparison's options to cards.
OPTION_SHORTLIST = 5
#: What two options being catalogue alternatives of each other adds to a mapping's score:
#: "EKS or kubeadm" weighs the card recommending a managed service against the one
#: recommending kubeadm, not a card that merely mentions EKS in passing.
ALTERNATIVE_BONUS = 0.15


#: What naming the option in its title adds: a card's title is the choice it recommends.
TITLE_BONUS = 0.1


def _title_share(words: set[str], decision: Decision) -> float:
    return len(words & set(tokenize(decision.title))) / len(words) if words else 0.0


def option_cards(query: Query, cards: CardIndex, min_match: float) -> list[str | None]:
    """The card that recommends each comparison option, or ``None``. Each option's
    shortlist comes by meaning and by name, a card whose title (the choice it
    recommends) names the option counting extra; among the shortlists the joint choice
    wins that scores best, options that are alternatives of each other counting extra.
    The choice does not depend on the order the options were named in."""
    import itertools

    import numpy as np

    if query.comparison is None:
        return []
    shortlists: list[list[tuple[str | None, float]]] = []
    for option, vector in zip(query.comparison.options, query.option_vectors, strict=True):
        score = cards.dense(vector) + 0.5 * cards.keyword(option)
        top = np.argsort(-score, kind="stable")[:OPTION_SHORTLIST]
        words = content(option)
        found: list[tuple[str | None, float]] = [
            (cards.ids[int(i)], float(score[int(i)])
             + TITLE_BONUS * _title_share(words, cards.decisions[int(i)]))
            for i in top if float(score[int(i)]) >= min_match
        ]
        shortlists.append(found or [(None, 0.0)])
    by_id = {d.id: d for d in cards.decisions}

    def joint(choice: tuple[tuple[str | None, float], ...]) -> tuple[float, tuple[str, ...]]:
        ids = [d for d, _ in choice if d is not None]
        total = sum(s for _, s in choice)
        for a, b in itertools.combinations(ids, 2):
            if a != b and (b in by_id[a].alternatives or a in by_id[b].alternatives):
                total += ALTERNATIVE_BONUS
        # Ties go by the ids, whatever the order the options were named in.
        return (round(total, 9), tuple(sorted(ids)))

    best = max(itertools.product(*shortlists), key=joint)
    return [d for d, _ in best]


def negated_match(
    query: Query, cards: CardIndex, dense: Any, question_tokens: set[str]
) -> tuple[Any, Any]:
    """Per card: how far its cosine with the negated stretches exceeds ``dense`` (its best
    cosine with the rest of the question), and BM25 of the words found only there."""
    import numpy as np

    zero = np.zeros(len(cards.ids), dtype=np.float64)
    if not query.negated or query.negated_vector is None:
        return zero, zero
    lead = np.maximum(cards.dense(query.negated_vector) - dense, 0.0)
    only = [w for w in query.negated.split()
            if (t := tokenize(w)) and not set(t) & question_tokens]
    return lead, cards.keyword(" ".join(only)) if only else zero


def negation_dependence(query: Query, cards: CardIndex, dense: Any, bm25: Any,
                        learned: Any) -> dict[str, Any]:
    """Per card, how much its match depends on what the user negated, in each channel
    (dense cosine, BM25, the learned card model): its score against the question with
    the negated stretches put back minus its score without them (``negated_lift*``,
    never below zero), and how near the card is to the negated stretches themselves,
    1/(1+rank) of the card under their cosine plus scaled learned log-probability
    (``negated_nearest``). All zero when nothing was negated."""
    import numpy as np

    n = len(cards.ids)
    names = ("negated_lift", "negated_lift_bm25", "negated_lift_learned", "negated_nearest")
    if not query.negated or query.negated_vector is None or query.full_vector is None:
        return {k: np.zeros(n, dtype=np.float64) for k in names}
    def scaled(log_p: Any) -> Any:
        return 1.0 - np.maximum(log_p, LEARNED_FLOOR) / LEARNED_FLOOR

    full_learned = scaled(cards.learned_log_proba(query.full_vector))
    kept_learned = scaled(learned)
    # One rank under both channels together (a card model that knows nothing adds the
    # same to every card).
    near = _ranks(cards.dense(query.negated_vector)
                  + scaled(cards.learned_log_proba(query.negated_vector)))
    return {
        "negated_lift": np.maximum(cards.dense(query.full_vector) - dense, 0.0),
        "negated_lift_bm25": np.maximum(cards.keyword(query.full_text) - bm25, 0.0),
        "negated_lift_learned": np.maximum(full_learned - kept_learned, 0.0),
        "negated_nearest": 1.0 / (1.0 + near),
    }


def _ranks(values: Any) -> Any:
    import numpy as np

    r = np.empty(len(values), dtype=np.float64)
    r[np.argsort(-np.asarray(values), kind="stable")] = np.arange(len(values))
    return r


def negated_sides(decision: Decision, negated_only: set[str]) -> tuple[float, float]:
    """Shares of ``negated_only`` (content words said only inside negated stretches) in
    the card's title and ``when``, and in its ``avoid_when``."""
    if not negated_only:
        return 0.0, 0.0
    slug = decision.id.split(".", 1)[1].replace("-", " ")
    presumes = set(tokenize(" ".join([decision.title, slug, *decision.when])))
    against = set(tokenize(" ".join(decision.avoid_when)))
    n = len(negated_only)
    return len(negated_only & presumes) / n, len(negated_only & against) / n


def score(
    query: Query,
    passages: Sequence[Passage],
    catalogue: Catalogue,
    cards: CardIndex,
    conditions: dict[str, bool | None],
    weights: Weights,
    ablations: frozenset[str] = frozenset(),
    refuted: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Every candidate decision with its features and probability, best first."""
    import numpy as np

    dense = cards.dense(query.vector)
    bm25 = cards.keyword(query.text)
    per_aspect = [
        (cards.dense(v), cards.keyword(a))
        for a, v in zip(query.aspects, query.aspect_vectors, strict=True)
    ]
    combined = [d + 0.5 * k for d, k in per_aspect]
    aspect_dense = np.max(np.stack([d for d, _ in per_aspect]), axis=0)
    # Distance to the best card, in the aspect where the card comes closest: a card that
    # leads one part of a multi-part question is not far behind.
    gap = np.max(np.stack([d - d.max() for d, _ in [(dense, None), *per_aspect]]), axis=0)
    aspect_bm25 = np.max(np.stack([k for _, k in per_aspect]), axis=0)
    leaders = {int(np.argmax(c)) for c in combined}
    whole = dense + 0.5 * bm25
    rank = np.empty(len(whole), dtype=np.float64)
    rank[np.argsort(-whole, kind="stable")] = np.arange(len(whole))
    aspect_rank = np.full(len(whole), np.inf)
    for c in combined:
        r = np.empty(len(c), dtype=np.float64)
        r[np.argsort(-c, kind="stable")] = np.arange(len(c))
        aspect_rank = np.minimum(aspect_rank, r)
    use_learned = "learned-cards" not in ablations
    learned = cards.learned_log_proba(query.vector)
    # One aspect is the whole question (make_query reuses its vector).
    per_aspect_learned = (
        [cards.learned_log_proba(v) for v in query.aspect_vectors]
        if len(query.aspect_vectors) > 1 else [learned]
    )
    aspect_learned = np.max(np.stack([learned, *per_aspect_learned]), axis=0)
    learned_rank = np.empty(len(learned), dtype=np.float64)
    learned_rank[np.argsort(-learned, kind="stable")] = np.arange(len(learned))
    pool: dict[int, None] = {}
    if use_learned:
        for i in np.argsort(-learned, kind="stable")[:POOL_LEARNED].tolist():
            pool[int(i)] = None
        for lp in per_aspect_learned:
            for i in np.argsort(-lp, kind="stable")[:POOL_LEARNED_PER_ASPECT].tolist():
                pool[int(i)] = None
    if "card-retrieval" not in ablations:
        for i in np.argsort(-(dense + 0.5 * bm25), kind="stable")[:POOL].tolist():
            pool[int(i)] = None
        for c in combined:
            for i in np.argsort(-c, kind="stable")[:POOL_PER_ASPECT].tolist():
                pool[int(i)] = None
    votes = passage_votes(passages, catalogue) if "passage-evidence" not in ablations else {}
    for did in votes:
        pool[cards.row(did)] = None
    options = option_cards(query, cards, weights.get("option_min", 0.55))
    if "comparisons" in ablations:
        options = []
    for did_opt in options:
        if did_opt is not None:
            pool[cards.row(did_opt)] = None
    qtokens = set(tokenize(query.text))
    negated_dense, negated_bm25 = negated_match(query, cards, np.maximum(dense, aspect_dense),
                                                qtokens)
    negated_only = content(query.negated) - qtokens if query.negated else set()
    dependence = negation_dependence(query, cards, dense, bm25, learned)
    top_evidence = max((evidence(v) for v in votes.values()), default=0.0) or 1.0
    switched = {f for name in ablations for f in ABLATED.get(name, ())}
    out: list[Candidate] = []
    for row in pool:
        decision = cards.decisions[row]
        cand = Candidate(decision=decision, passages=list(votes.get(decision.id, [])))
        # Without profile fit no condition is checked at all: selection and rationale
        # read matched/conflicts too, not only the model's features.
        n_match, n_conflict, mismatch = (
            (0, 0, False) if "profile-fit" in ablations
            else assess_conditions(cand, conditions, qtokens, refuted)
        )
        if decision.id in options:
            cand.option_of = options.index(decision.id)
        cand.aspect_scores = [float(c[row]) for c in combined]
        negated_when, negated_avoid = negated_sides(decision, negated_only)
        nearest = float(dependence["negated_nearest"][row])
        cand.negated_rank = 1.0 / nearest - 1.0 if nearest > 0 else math.inf
        features = {
            "dense": float(dense[row]),
            "dense_gap": float(gap[row]),
            "bm25": float(bm25[row]),
            "aspect_dense": float(aspect_dense[row]),
            "aspect_bm25": float(aspect_bm25[row]),
            "aspect_top": 1.0 if row in leaders else 0.0,
            "rank": 1.0 / (1.0 + float(rank[row])),
            "aspect_rank": 1.0 / (1.0 + float(aspect_rank[row])),
            "evidence": evidence(cand.passages),
            "evidence_rel": evidence(cand.passages) / top_evidence,
            "own_section": 1.0 if any(
                list(p.chunk.decision_ids) == [decision.id] for p, _ in cand.passages
            ) else 0.0,
            "match": float(min(n_match, 3)),
            "conflict": float(min(n_conflict, 2)),
            "hosting_mismatch": 1.0 if mismatch else 0.0,
            "refuted": float(min(len(cand.refuted), 2)),
            "refuted_named": float(min(len(cand.refuted), 2))
            * (float(dense[row]) + float(bm25[row])),
            "option": 1.0 if cand.option_of is not None else 0.0,
            "learned": _scaled(float(learned[row])),
            "aspect_learned": _scaled(float(aspect_learned[row])),
            "learned_rank": 1.0 / (1.0 + float(learned_rank[row])),
            "negated_dense": float(negated_dense[row]),
            "negated_bm25": float(negated_bm25[row]),
            "negated_when": negated_when,
            "negated_avoid": negated_avoid,
            **{k: float(v[row]) for k, v in dependence.items()},
        }
        cand.features = {
            k: (weights.means.get(k, 0.0) if k in NEUTRAL_WHEN_ABLATED else 0.0)
            if k in switched else v
            for k, v in features.items()
        }
        cand.probability = weights.probability(cand.features)
        out.append(cand)
    out.sort(key=lambda c: (-c.probability, c.decision.id))
    return out


def _scaled(log_p: float) -> float:
    return 1.0 - max(log_p, LEARNED_FLOOR) / LEARNED_FLOOR


def unknown_terms(question: str, known: Callable[[str], bool]) -> list[str]:
    """Names and technical terms of the question that the knowledge base never uses:
    capitalised words past a sentence start, CamelCase, words with digits or slashes."""
    import re

    found: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", question):
        words = re.findall(r"[A-Za-z][\w/.+-]*[\w+]|[A-Za-z]", sentence)
        for i, word in enumerate(words):
            salient = (
                (i > 0 and word[:1].isupper())
                or re.search(r"[a-z][A-Z]", word) is not None
                or (re.search(r"\d", word) is not None and re.search(r"[A-Za-z]{2}", word))
                or "/" in word
            )
            if not salient:
                continue
            tokens = [t for t in tokenize(word.replace("/", " ")) if content(t)]
            if tokens and not all(known(t) for t in tokens):
                found.append(word)
    return list(dict.fromkeys(found))
