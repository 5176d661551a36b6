"""Deterministic eval metrics: pure functions over answers, cases and ranked documents.

Definitions (also in ``evals/README.md``):

- *decision recall*: share of a case's ``must`` groups with at least one recommended id.
- *decision precision*: share of recommended ids that are relevant. An id is relevant when it
  is in some ``must`` group, or when it is carried by one of the case's ``expect_sources``
  documents and is not in ``must_not`` (the case says that document is on point, so its
  decisions are fair answers).
- *must_not rate*: share of cases declaring ``must_not`` that recommended any of those ids.
- *citation validity*: share of citations whose id is among the answer's sources.
- *citation support*: share of (recommendation, citation) pairs where the best sentence of
  the cited passage has an embedding cosine similarity with the recommendation's claim
  (title + recommendation) at or above a threshold fitted on labelled pairs
  (``support.py``, ``evals/support-pairs.yaml``).
- *citation URL correctness*: share of (recommendation, citation) pairs whose shown upstream
  URL is one the cited section's own source list names (``allowed_urls``).
- *profile ok*: the answer's profile holds ``expect_profile`` and none of ``forbid_profile``.
- *sources recall*: share of ``expect_sources`` documents among the cited sources.
- retrieval *hit@k*, *recall@k*, *MRR* and *nDCG@10* over a ranked list of documents
  (passages collapsed to their document, first rank kept), binary relevance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assistant.schemas import PlanAnswer, PlanningProfile, Source

_WORD = re.compile(r"[a-z0-9]+(?:[-+.][a-z0-9]+)*")
_STOP = frozenset(
    re.findall(r"\S+", """a an and are as at be by can do for from has have how if in into
    is it its more most not of on one or over per run than that the their them then there
    these they this to
    use used uses using was were what when where which while who will with without you your
    only each every any all also both other own same so such too very just should would
    could may might must""")
)


class DecisionCard(BaseModel):
    """What the metrics need to know about one catalogue decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    doc_path: str = Field(description="Path of the corpus document that carries the decision.")
    doc_id: str = ""
    terms: frozenset[str] = Field(default_factory=frozenset)
    sources: frozenset[str] = Field(
        default_factory=frozenset, description="Upstream URLs the decision card lists."
    )


def key_terms(text: str) -> frozenset[str]:
    """Lowercased content words of ``text`` (stop words and one-letter words dropped)."""
    return frozenset(
        w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP
    )


def term_overlap(card_terms: frozenset[str], text: str) -> float:
    """Share of ``card_terms`` that occur in ``text``."""
    if not card_terms:
        return 0.0
    return len(card_terms & key_terms(text)) / len(card_terms)


# --------------------------------------------------------------------------- decisions


def decision_recall(must: Sequence[Sequence[str]], recommended: Iterable[str]) -> float | None:
    if not must:
        return None
    rec = set(recommended)
    return sum(1 for group in must if rec & set(group)) / len(must)


def missing_groups(must: Sequence[Sequence[str]], recommended: Iterable[str]) -> list[list[str]]:
    rec = set(recommended)
    return [list(group) for group in must if not rec & set(group)]


def relevant_ids(
    must: Sequence[Sequence[str]],
    must_not: Iterable[str],
    expect_doc_ids: Iterable[str],
    cards: Mapping[str, DecisionCard],
) -> set[str]:
    """Decision ids that count as relevant for precision (see the module docstring)."""
    docs = set(expect_doc_ids)
    relevant = {d for group in must for d in group}
    relevant |= {c.id for c in cards.values() if c.doc_id and c.doc_id in docs}
    return relevant - set(must_not)


def decision_precision(recommended: Sequence[str], relevant: set[str]) -> float | None:
    if not recommended:
        return None
    return sum(1 for d in recommended if d in relevant) / len(recommended)


def must_not_hits(must_not: Iterable[str], recommended: Iterable[str]) -> list[str]:
    banned = set(must_not)
    return sorted({d for d in recommended if d in banned})


# --------------------------------------------------------------------------- citations


def citation_validity(answer: PlanAnswer) -> float | None:
    """Share of citations that point at a source of the answer (``None`` without citations)."""
    source_ids = {s.id for s in answer.sources}
    cited = [c for r in answer.recommendations for c in r.citations]
    if not cited:
        return None
    return sum(1 for c in cited if c in source_ids) / len(cited)


def support_pairs(answer: PlanAnswer) -> list[tuple[str, str, str, str]]:
    """``(decision id, source id, claim, passage)`` for every citation of a known source;
    the claim is what the recommendation asserts (title + recommendation text)."""
    sources = {s.id: s for s in answer.sources}
    pairs = []
    for rec in answer.recommendations:
        claim = f"{rec.title}. {rec.recommendation}"
        for cid in rec.citations:
            src = sources.get(cid)
            pairs.append((rec.decision_id, cid, claim, src.snippet if src else ""))
    return pairs


def citation_support(
    similarities: Sequence[tuple[str, float]], threshold: float
) -> tuple[float | None, list[str]]:
    """(share of pairs at or above ``threshold``, the pairs below it) from
    ``(pair label, best-sentence similarity)``; ``None`` without pairs."""
    if not similarities:
        return None, []
    bad = [label for label, sim in similarities if sim < threshold]
    return (len(similarities) - len(bad)) / len(similarities), bad


def _norm_url(url: str) -> str:
    return url.strip().rstrip("/")


def allowed_urls(
    source: Source,
    cards: Mapping[str, DecisionCard],
    document_urls: Mapping[str, frozenset[str]],
) -> frozenset[str] | None:
    """URLs the cited section's source list names: the decisions it is tagged with, else
    its curated document's front matter; ``None`` for a passage of no corpus document."""
    if source.decision_ids:
        return frozenset(
            _norm_url(u) for d in source.decision_ids if d in cards for u in cards[d].sources
        )
    urls = document_urls.get(source.path)
    return None if urls is None else frozenset(_norm_url(u) for u in urls)


def citation_url_correctness(
    answer: PlanAnswer,
    cards: Mapping[str, DecisionCard],
    document_urls: Mapping[str, frozenset[str]],
) -> tuple[float | None, list[str]]:
    """(share of scored citation pairs whose ``Source.url`` is allowed, the wrong ones as
    ``decision -> source id``); uncurated passages are not scored."""
    sources = {s.id: s for s in answer.sources}
    scored = 0
    wrong: list[str] = []
    for rec in answer.recommendations:
        for cid in rec.citations:
            src = sources.get(cid)
            allowed = None if src is None else allowed_urls(src, cards, document_urls)
            if src is None or allowed is None:
                continue
            scored += 1
            if src.url is None or _norm_url(src.url) not in allowed:
                wrong.append(f"{rec.decision_id} -> {cid}")
    return (None if scored == 0 else (scored - len(wrong)) / scored), wrong


def _values(value: object) -> set[str]:
    items = value if isinstance(value, list | tuple | set | frozenset) else [value]
    return {str(v).lower() for v in items if v is not None}


def profile_problems(
    expect: Mapping[str, object], forbid: Mapping[str, object], profile: PlanningProfile
) -> list[str]:
    """What the extracted profile gets wrong: a missing expected value, or a forbidden one.
    List fields: expected values must be among the profile's, forbidden ones absent.
    Scalar fields: the expected value exactly; none of the forbidden values."""
    have = profile.model_dump()
    problems = []
    for name, wanted in expect.items():
        got = _values(have.get(name))
        missing = _values(wanted) - got
        if isinstance(have.get(name), list):
            problems += [f"{name} lacks {v}" for v in sorted(missing)]
        elif missing or not got:
            problems.append(f"{name} is {have.get(name)!r}, expected {wanted!r}")
    for name, banned in forbid.items():
        clash = _values(banned) & _values(have.get(name))
        problems += [f"{name} has {v}" for v in sorted(clash)]
    return problems


def profile_ok(
    expect: Mapping[str, object], forbid: Mapping[str, object], profile: PlanningProfile | None
) -> bool | None:
    """``None`` when the case states no profile expectation."""
    if not expect and not forbid:
        return None
    return profile is not None and not profile_problems(expect, forbid, profile)


def citation_specificity(answer: PlanAnswer) -> float | None:
    """Share of recommendations citing a passage of the decision's own section (a passage
    tagged with that decision alone), not only an overview that carries many decisions.
    Meaningful over a curated corpus, whose sections are tagged with decision ids."""
    sources = {s.id: s for s in answer.sources}
    if not answer.recommendations:
        return None
    own = 0
    for rec in answer.recommendations:
        tagged = [sources[c].decision_ids for c in rec.citations if c in sources]
        own += any(ids == [rec.decision_id] for ids in tagged)
    return own / len(answer.recommendations)


def sources_recall(expected: Sequence[str], found: Iterable[str]) -> float | None:
    """Share of ``expected`` documents present in ``found`` (both as document keys)."""
    if not expected:
        return None
    have = set(found)
    return sum(1 for e in expected if e in have) / len(expected)


# --------------------------------------------------------------------------- retrieval


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Documents in first-seen order: passages of one document count once, at their best rank."""
    return list(dict.fromkeys(ranked))


def hit_at_k(ranked: Sequence[str], expected: Iterable[str], k: int) -> float | None:
    exp = set(expected)
    if not exp:
        return None
    return 1.0 if exp & set(ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], expected: Iterable[str], k: int) -> float | None:
    exp = set(expected)
    if not exp:
        return None
    return len(exp & set(ranked[:k])) / len(exp)


def reciprocal_rank(ranked: Sequence[str], expected: Iterable[str]) -> float | None:
    exp = set(expected)
    if not exp:
        return None
    for i, doc in enumerate(ranked, start=1):
        if doc in exp:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], expected: Iterable[str], k: int = 10) -> float | None:
    exp = set(expected)
    if not exp:
        return None
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1) if d in exp)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(exp), k) + 1))
    return dcg / ideal


def document_key(path: str, roots: Sequence[str], expected: Iterable[str]) -> str:
    """Name a retrieved path as ``<root>/<path>`` when that is how the expectations spell it.

    Each root may be ingested on its own (paths relative to it) or their common parent
    may be ingested once (paths already start with the root's name); both match.
    """
    if not roots or path.split("/", 1)[0] in roots:
        return path
    exp = set(expected)
    for root in roots:
        candidate = f"{root}/{path}"
        if candidate in exp:
            return candidate
    return path


# --------------------------------------------------------------------------- aggregation


class MetricSummary(BaseModel):
    """A metric over cases: value, bootstrap 95% CI, and how many cases defined it."""

    model_config = ConfigDict(extra="forbid")

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0


def defined(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def mean(values: Iterable[float | None]) -> float | None:
    vals = defined(values)
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100)."""
    vals = defined(values)
    return float(np.percentile(np.asarray(vals), q)) if vals else None


def bootstrap_ci(
    values: Sequence[float],
    stat: str = "mean",
    q: float = 50.0,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """95% percentile-bootstrap interval of the mean (or of the ``q``-th percentile)."""
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    samples = arr[idx]
    stats = samples.mean(axis=1) if stat == "mean" else np.percentile(samples, q, axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def summarize(values: Iterable[float | None], stat: str = "mean", q: float = 50.0,
              seed: int = 0, ci: bool = True) -> MetricSummary:
    vals = defined(values)
    if not vals:
        return MetricSummary(value=None, n=0)
    value = sum(vals) / len(vals) if stat == "mean" else float(np.percentile(vals, q))
    if not ci:
        return MetricSummary(value=value, n=len(vals))
    interval = bootstrap_ci(vals, stat=stat, q=q, seed=seed)
    low, high = interval if interval else (None, None)
    return MetricSummary(value=value, ci_low=low, ci_high=high, n=len(vals))


# --------------------------------------------------------------------------- paired tests


def paired_bootstrap_p(differences: Sequence[float], resamples: int = 5000,
                       seed: int = 0) -> float | None:
    """Two-sided p-value that the mean paired difference is zero (bootstrap of the mean)."""
    if not differences:
        return None
    arr = np.asarray(differences, dtype=float)
    if not bool(np.any(arr)):
        return 1.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    means = arr[idx].mean(axis=1)
    # Share of resampled means on the far side of zero, doubled (percentile method).
    low = float(np.mean(means <= 0.0))
    high = float(np.mean(means >= 0.0))
    return min(1.0, 2.0 * min(low, high))


def sign_test_p(differences: Sequence[float]) -> float | None:
    """Exact two-sided sign test over non-zero paired differences (McNemar for 0/1 scores)."""
    pos = sum(1 for d in differences if d > 0)
    neg = sum(1 for d in differences if d < 0)
    n = pos + neg
    if n == 0:
        return 1.0 if differences else None
    k = min(pos, neg)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    return min(1.0, 2.0 * tail)
