"""Hybrid retrieval: dense search in the vector store plus BM25, fused by reciprocal rank.

The pure steps (fusion, near-duplicate collapse, per-document cap, turning chunks into
``Source``s) are functions; ``Retriever`` only wires them to an embedder, a store and the
keyword indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant.errors import CollectionNotFoundError, InputError
from assistant.index.embedding import Embedder
from assistant.index.keyword import KeywordIndex, KeywordIndexes, tokenize
from assistant.index.store import VectorStore
from assistant.ingest.untrusted import strip_images
from assistant.schemas import Chunk, ScoredChunk, Source

#: The usual RRF constant: damps the difference between the first few ranks.
RRF_K = 60
#: At most this many passages of one document in a result ("several sections, not ten").
PER_DOCUMENT_CAP = 3
#: Passages sharing this much of their vocabulary count as one.
DUPLICATE_JACCARD = 0.85
SNIPPET_CHARS = 700


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
    text = " ".join(strip_images(chunk.text).split())
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
        flags=list(chunk.flags),
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

    def search(
        self,
        query: str,
        k: int,
        topic: str | None = None,
        collection: str | None = None,
        vector: Sequence[float] | None = None,
    ) -> list[Passage]:
        """``vector``: the query's embedding when the caller has it already."""
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
        if vector is None:
            vector = self._embedder.embed_query(query)
        values = [float(x) for x in vector]
        for attempt in (0, 1):
            # Both retrievers read the generation published when the request started,
            # even if an ingest publishes another one meanwhile. Resolving the pointer
            # costs a stat on an embedded store; the vector query is then one store call.
            pointer = self._store.pointer(name)
            source = pointer.physical if pointer else name
            try:
                dense = self._store.query(source, values, depth, where=where)
                if not dense:
                    # Nothing near: an empty (or emptied) collection says how to fill it.
                    self._check_collection(name)
                keyword = self._keyword.search(name, query, depth, where=where, source=source)
            except CollectionNotFoundError:
                if attempt == 0 and pointer is not None:
                    continue  # collected after two newer publishes: take the current one
                self._check_collection(name)  # a dropped collection: say how to fill it
                raise
            return fuse(dense, keyword, k)
        raise AssertionError("unreachable")

    def _index(self, name: str) -> KeywordIndex:
        """The keyword index of the generation ``name`` publishes now. On an embedded
        store that is a stat of the pointer file, and the index the answer's search
        loaded serves its other lookups without a store call."""
        for attempt in (0, 1):
            pointer = self._store.pointer(name)
            try:
                return self._keyword.get(name, pointer.physical if pointer else None)
            except CollectionNotFoundError:
                if attempt == 0 and pointer is not None:
                    continue  # collected meanwhile: take the current one
                raise
        raise AssertionError("unreachable")

    def curated(
        self, query: str, k: int, topic: str | None = None, collection: str | None = None
    ) -> list[Passage]:
        """Keyword hits among passages that explain catalogue decisions, for when a large
        uncurated document set crowds them out of the hybrid results. Scored as one RRF
        list (at most 0.5, like a passage only one retriever found)."""
        name = collection or self._default_collection
        where: Mapping[str, Any] | None = {"topic": topic} if topic else None
        hits = self._index(name).search(query, k, where=where, curated_only=True)
        best = 2 / (RRF_K + 1)
        return [
            Passage(
                chunk=h.chunk, score=(1 / (RRF_K + rank + 1)) / best, keyword=h.score,
                keyword_rank=rank,
            )
            for rank, h in enumerate(hits)
        ]

    def vocabulary(self, collection: str | None = None) -> frozenset[str]:
        """Every (stemmed) token of the collection's keyword index."""
        return self._index(collection or self._default_collection).vocabulary()

    def decision_passages(
        self, decision_ids: Sequence[str], collection: str | None = None, per_decision: int = 2
    ) -> list[Passage]:
        """The first passages of each decision's own section (score 0: not retrieved by
        search, looked up because the decision card matches the question)."""
        index = self._index(collection or self._default_collection)
        found = []
        for did in decision_ids:
            found += [Passage(chunk=c, score=0.0) for c in index.section_chunks(did)[:per_decision]]
        return found

    def _check_collection(self, name: str) -> None:
        from assistant.index.store import check_embedder

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
