"""Hybrid retrieval: dense search in the vector store plus BM25, fused by reciprocal rank.

The pure steps (fusion, near-duplicate collapse, per-document cap, turning chunks into
``Source``s) are functions; ``Retriever`` only wires them to an embedder, a store and the
keyword indexes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .embedding import Embedder
from .errors import CollectionNotFoundError, InputError
from .keyword import KeywordIndexes, tokenize
from .schemas import Chunk, ScoredChunk, Source
from .store import VectorStore

#: The usual RRF constant: damps the difference between the first few ranks.
RRF_K = 60
#: At most this many passages of one document in a result ("several sections, not ten").
PER_DOCUMENT_CAP = 3
#: Passages sharing this much of their vocabulary count as one.
DUPLICATE_JACCARD = 0.85
SNIPPET_CHARS = 700
#: Lookups this soon after a search belong to the same answer and use its index.
_SAME_ANSWER_SECONDS = 1.0


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the evidence for it from each retriever."""

    chunk: Chunk
    score: float
    dense: float | None = None
    keyword: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def to_source(self) -> Source:
        return to_source(self.chunk, self.score)


def to_source(chunk: Chunk, score: float) -> Source:
    text = " ".join(chunk.text.split())
    snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
    return Source(
        id=chunk.id,
        title=chunk.title,
        section=" > ".join(chunk.heading_path),
        path=chunk.path,
        url=chunk.url,
        snippet=snippet,
        score=round(score, 6),
        topic=chunk.topic,
        decision_ids=list(chunk.decision_ids),
    )


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = RRF_K
) -> dict[str, float]:
    """Fused score per id, normalised so an id ranked first by every list scores 1.0."""
    if not rankings:
        return {}
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    best = len(rankings) / (k + 1)
    return {item: score / best for item, score in fused.items()}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@lru_cache(maxsize=8192)
def _token_set(text: str) -> frozenset[str]:
    # The same passages come back question after question: tokenize each once.
    return frozenset(tokenize(text))


def collapse_near_duplicates(
    passages: Iterable[Passage], threshold: float = DUPLICATE_JACCARD
) -> list[Passage]:
    """Keep the first of passages with the same content or nearly the same words."""
    kept: list[Passage] = []
    kept_tokens: list[frozenset[str]] = []
    hashes: set[str] = set()
    for passage in passages:
        if passage.chunk.content_hash in hashes:
            continue
        tokens = _token_set(passage.chunk.text)
        if any(_jaccard(tokens, other) >= threshold for other in kept_tokens):
            continue
        kept.append(passage)
        kept_tokens.append(tokens)
        hashes.add(passage.chunk.content_hash)
    return kept


def cap_per_document(passages: Iterable[Passage], cap: int = PER_DOCUMENT_CAP) -> list[Passage]:
    """At most ``cap`` passages of one document, keeping the order."""
    seen: dict[tuple[str, str], int] = {}
    kept = []
    for passage in passages:
        key = (passage.chunk.root, passage.chunk.path)
        if seen.get(key, 0) >= cap:
            continue
        seen[key] = seen.get(key, 0) + 1
        kept.append(passage)
    return kept


def fuse(
    dense: Sequence[ScoredChunk], keyword: Sequence[ScoredChunk], k: int
) -> list[Passage]:
    """Fuse two ranked lists into ``k`` passages: RRF, then duplicates, then the cap."""
    chunks: dict[str, Chunk] = {}
    dense_by_id: dict[str, tuple[int, float]] = {}
    keyword_by_id: dict[str, tuple[int, float]] = {}
    for rank, hit in enumerate(dense):
        chunks.setdefault(hit.chunk.id, hit.chunk)
        dense_by_id.setdefault(hit.chunk.id, (rank, hit.score))
    for rank, hit in enumerate(keyword):
        chunks.setdefault(hit.chunk.id, hit.chunk)
        keyword_by_id.setdefault(hit.chunk.id, (rank, hit.score))
    # Both lists always count, so a passage only one retriever found scores at most 0.5.
    fused = reciprocal_rank_fusion([list(dense_by_id), list(keyword_by_id)])
    ordered = sorted(fused, key=lambda cid: (-fused[cid], cid))
    passages = []
    for cid in ordered:
        d = dense_by_id.get(cid)
        w = keyword_by_id.get(cid)
        passages.append(
            Passage(
                chunk=chunks[cid],
                score=fused[cid],
                dense=d[1] if d else None,
                keyword=w[1] if w else None,
                dense_rank=d[0] if d else None,
                keyword_rank=w[0] if w else None,
            )
        )
    return cap_per_document(collapse_near_duplicates(passages))[:k]


class Retriever:
    """Hybrid search over one store; built once per ``Assistant`` and reused."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        keyword: KeywordIndexes,
        default_collection: str,
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._keyword = keyword
        self._default_collection = default_collection
        self._checked: set[str] = set()
        self._seen: dict[str, tuple[str, float]] = {}

    def search(
        self,
        query: str,
        k: int,
        topic: str | None = None,
        collection: str | None = None,
    ) -> list[Passage]:
        if not query.strip():
            raise InputError("the query is empty.", "ask a question or give search words.")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}.", "pass --k 1 or more.")
        name = collection or self._default_collection
        if name not in self._checked:
            self._check_collection(name)
        where: Mapping[str, Any] | None = {"topic": topic} if topic else None
        # Each retriever looks deeper than k so fusion and the caps have room to work.
        depth = max(3 * k, 24)
        vector = self._embedder.embed_query(query)
        try:
            dense = self._store.query(name, vector, depth, where=where)
        except CollectionNotFoundError:
            self._checked.discard(name)
            self._check_collection(name)
            raise
        if not dense and not where:
            # Only an empty (or emptied) collection answers nothing: say how to fill it.
            self._checked.discard(name)
            self._check_collection(name)
        # One generation read per search; the curated and decision lookups of the same
        # answer reuse it (see ``_generation``).
        generation = self._keyword.generation(name)
        self._seen[name] = (generation, time.monotonic())
        keyword = self._keyword.get(name, generation).search(query, depth, where)
        return fuse(dense, keyword, k)

    def _generation(self, name: str) -> str | None:
        """The generation a search just read (within a second), else None (read it)."""
        seen = self._seen.get(name)
        if seen is not None and time.monotonic() - seen[1] < _SAME_ANSWER_SECONDS:
            return seen[0]
        return None

    def curated(
        self, query: str, k: int, topic: str | None = None, collection: str | None = None
    ) -> list[Passage]:
        """Keyword hits among passages that explain catalogue decisions, for when a large
        uncurated document set crowds them out of the hybrid results. Scored as one RRF
        list (at most 0.5, like a passage only one retriever found)."""
        name = collection or self._default_collection
        where: Mapping[str, Any] | None = {"topic": topic} if topic else None
        index = self._keyword.get(name, self._generation(name))
        hits = index.search(query, k, where=where, curated_only=True)
        best = 2 / (RRF_K + 1)
        return [
            Passage(
                chunk=h.chunk, score=(1 / (RRF_K + rank + 1)) / best, keyword=h.score,
                keyword_rank=rank,
            )
            for rank, h in enumerate(hits)
        ]

    def decision_passages(
        self, decision_ids: Sequence[str], collection: str | None = None, per_decision: int = 2
    ) -> list[Passage]:
        """The first passages of each decision's own section (score 0: not retrieved by
        search, looked up because the decision card matches the question)."""
        name = collection or self._default_collection
        index = self._keyword.get(name, self._generation(name))
        found = []
        for did in decision_ids:
            found += [Passage(chunk=c, score=0.0) for c in index.section_chunks(did)[:per_decision]]
        return found

    def _check_collection(self, name: str) -> None:
        from .store import check_embedder

        try:
            count = self._store.count(name)
        except CollectionNotFoundError as exc:
            raise CollectionNotFoundError(
                f"the collection {name!r} does not exist in {self._store.location}.",
                "run `kubeplan ingest` (or `kubeplan ingest PATH --collection "
                f"{name}`) first.",
            ) from exc
        if count == 0:
            raise CollectionNotFoundError(
                f"the collection {name!r} in {self._store.location} is empty.",
                "run `kubeplan ingest` (or `kubeplan ingest PATH --collection "
                f"{name}`) first.",
            )
        if name not in self._checked:
            check_embedder(self._store, name, self._embedder.name, self._embedder.dimension)
            self._checked.add(name)
