"""Vector stores behind the ``VectorStore`` protocol. chromadb is imported only here.

(Contract, written first: the ingestion work implements ``ChromaStore`` and ``open_store``.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .schemas import Chunk, ScoredChunk


@runtime_checkable
class VectorStore(Protocol):
    """Stores chunks with their embeddings, per collection.

    Every method that names a collection that does not exist raises
    ``CollectionNotFoundError``, except ``upsert`` and ``set_meta`` (which create it)
    and ``drop`` and ``collections``.
    """

    @property
    def location(self) -> str:
        """Where the store lives: a folder or a server URL."""
        ...

    def collections(self) -> list[str]: ...

    def upsert(
        self, collection: str, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None: ...

    def delete(self, collection: str, ids: Sequence[str]) -> None: ...

    def get(self, collection: str, ids: Sequence[str]) -> list[Chunk]: ...

    def ids_by_path(self, collection: str) -> dict[str, set[str]]:
        """Every stored chunk id, grouped by (root-qualified) source path."""
        ...

    def iter_chunks(self, collection: str, batch_size: int = 1000) -> Iterator[Chunk]:
        """Every stored chunk, without embeddings (for the keyword index and stats)."""
        ...

    def query(
        self,
        collection: str,
        embedding: Sequence[float],
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The ``k`` nearest chunks; score is cosine similarity (higher is better).

        ``where`` takes equality filters on chunk metadata, e.g. ``{"topic": "secrets"}``.
        """
        ...

    def count(self, collection: str) -> int: ...

    def get_meta(self, collection: str) -> dict[str, Any]:
        """Collection-level metadata (embedder name, last ingest time, generation)."""
        ...

    def set_meta(self, collection: str, meta: Mapping[str, Any]) -> None: ...

    def drop(self, collection: str) -> None:
        """Delete the collection; a missing collection is not an error."""
        ...
