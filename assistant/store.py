"""Vector stores behind the ``VectorStore`` protocol. chromadb is imported only here.

``ChromaStore`` wraps an embedded (``PersistentClient``), server (``HttpClient``) or
in-memory (``EphemeralClient``) Chroma; ``open_store`` picks one from ``Settings``.
Chroma metadata values must be scalars, so lists are joined here and split back:
nothing outside this module sees a chromadb type.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .config import Settings
from .errors import CollectionNotFoundError, InputError, StoreError, StoreUnavailableError
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


# --------------------------------------------------------------------------- chroma

#: Metadata keys ``query(where=...)`` filters on.
FILTER_KEYS = ("topic", "collection", "path", "doc_id", "source", "root")
_SEP = " > "
_SERVER_HINT = "chroma run --path .kubeplan/server --host 127.0.0.1 --port 8000"
_UPSERT_BATCH = 1000


def source_of(chunk: Chunk) -> str:
    """The root-qualified source path of a chunk: what ids and the manifest are keyed by."""
    return f"{chunk.root.rstrip('/')}/{chunk.path}" if chunk.root else chunk.path


def _to_meta(chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "collection": chunk.collection,
        "path": chunk.path,
        "root": chunk.root,
        "source": source_of(chunk),
        "title": chunk.title,
        "heading_path": _SEP.join(chunk.heading_path),
        "n_headings": len(chunk.heading_path),
        "ordinal": chunk.ordinal,
        "content_hash": chunk.content_hash,
        "file_hash": chunk.file_hash,
        # "|a|b|" lets a substring filter find one id; "" means none.
        "decision_ids": "|" + "|".join(chunk.decision_ids) + "|" if chunk.decision_ids else "",
        "tokens": chunk.tokens,
    }
    for key in ("url", "topic", "doc_id"):
        value = getattr(chunk, key)
        if value is not None:
            meta[key] = value
    return meta


def _from_meta(chunk_id: str, text: str | None, meta: Mapping[str, Any] | None) -> Chunk:
    m = dict(meta or {})
    heading = str(m.get("heading_path", ""))
    n_headings = int(m.get("n_headings", 0))
    headings = heading.split(_SEP) if heading else []
    if n_headings and len(headings) != n_headings:
        # A heading that itself contains " > ": keep the count the chunk had.
        headings = [heading]
    decisions = str(m.get("decision_ids", ""))
    return Chunk(
        id=chunk_id,
        text=text or "",
        collection=str(m.get("collection", "")),
        path=str(m.get("path", "")),
        root=str(m.get("root", "")),
        title=str(m.get("title", "")),
        heading_path=headings,
        ordinal=int(m.get("ordinal", 0)),
        content_hash=str(m.get("content_hash", "")),
        file_hash=str(m.get("file_hash", "")),
        url=_opt(m.get("url")),
        topic=_opt(m.get("topic")),
        doc_id=_opt(m.get("doc_id")),
        decision_ids=[d for d in decisions.split("|") if d],
        tokens=int(m.get("tokens", 0)),
    )


def _opt(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class ChromaStore:
    """A ``VectorStore`` on Chroma, in cosine space (score = 1 - cosine distance)."""

    def __init__(self, client: Any, location: str) -> None:
        self._client = client
        self._location = location
        # Collection handles for the read path: a search is one store call, not a
        # lookup by name first. A handle gone stale (dropped elsewhere) is refetched.
        self._handles: dict[str, Any] = {}

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def persistent(cls, path: Path) -> ChromaStore:
        """An embedded store in ``path`` (created when missing). Not process-safe."""
        chromadb, chroma_settings = _import_chroma()
        try:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            raise StoreError(
                f"Cannot open the embedded store in {path}: {exc}",
                "check that the folder is writable, or move it away and run "
                "`kubeplan ingest --rebuild`.",
            ) from exc
        return cls(client, str(path.resolve()))

    @classmethod
    def http(cls, url: str) -> ChromaStore:
        """A store on the Chroma server at ``url``."""
        from urllib.parse import urlparse

        chromadb, chroma_settings = _import_chroma()
        parsed = urlparse(url)
        ssl = parsed.scheme == "https"
        host = parsed.hostname or "localhost"
        port = parsed.port or (443 if ssl else 8000)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailableError(
                f"No Chroma server answers at {url} ({exc}).",
                f"start one (e.g. `.venv/bin/{_SERVER_HINT}`) or unset KUBEPLAN_CHROMA_URL "
                "to use the embedded store.",
            ) from exc
        return cls(client, url)

    @classmethod
    def ephemeral(cls) -> ChromaStore:
        """An in-memory store. All ephemeral stores of one process share their data."""
        chromadb, chroma_settings = _import_chroma()
        return cls(chromadb.EphemeralClient(settings=chroma_settings), "memory")

    # -- protocol -------------------------------------------------------------------------
    @property
    def location(self) -> str:
        return self._location

    def collections(self) -> list[str]:
        return sorted(c.name for c in self._call(self._client.list_collections))

    def upsert(
        self, collection: str, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("upsert needs one embedding per chunk")
        if not chunks:
            return
        col = self._collection(collection, create=True)
        for start in range(0, len(chunks), _UPSERT_BATCH):
            part = chunks[start : start + _UPSERT_BATCH]
            self._call(
                col.upsert,
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[_to_meta(c) for c in part],
                embeddings=[list(e) for e in embeddings[start : start + _UPSERT_BATCH]],
            )

    def vectors_by_content_hash(
        self, collection: str, hashes: Sequence[str]
    ) -> dict[str, list[float]]:
        """Stored vectors of chunks with these content hashes (one per hash), so ingest
        can reuse them instead of embedding the same text again."""
        if not hashes or collection not in self.collections():
            return {}
        col = self._collection(collection)
        out: dict[str, list[float]] = {}
        unique = sorted(set(hashes))
        for start in range(0, len(unique), _UPSERT_BATCH):
            got = self._call(
                col.get,
                where={"content_hash": {"$in": unique[start : start + _UPSERT_BATCH]}},
                include=["metadatas", "embeddings"],
            )
            for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                key = str((meta or {}).get("content_hash", ""))
                if key and key not in out:
                    out[key] = [float(x) for x in vector]
        return out

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        col = self._collection(collection)
        ids = list(ids)
        for start in range(0, len(ids), _UPSERT_BATCH):
            self._call(col.delete, ids=ids[start : start + _UPSERT_BATCH])

    def get(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        col = self._collection(collection)
        if not ids:
            return []
        got = self._call(col.get, ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: _from_meta(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def ids_by_path(self, collection: str) -> dict[str, set[str]]:
        col = self._collection(collection)
        out: dict[str, set[str]] = {}
        for ids, metas in self._pages(col, include=["metadatas"]):
            for i, m in zip(ids, metas, strict=True):
                out.setdefault(str((m or {}).get("source", "")), set()).add(i)
        return out

    def iter_chunks(self, collection: str, batch_size: int = 1000) -> Iterator[Chunk]:
        col = self._collection(collection)
        offset = 0
        while True:
            got = self._call(
                col.get, include=["documents", "metadatas"], limit=batch_size, offset=offset
            )
            if not got["ids"]:
                return
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield _from_meta(i, d, m)
            offset += len(got["ids"])

    def query(
        self,
        collection: str,
        embedding: Sequence[float],
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        col = self._cached(collection)
        dimension = (col.metadata or {}).get("dimension")
        if isinstance(dimension, int) and dimension != len(embedding):
            raise StoreError(
                f"Collection {collection!r} holds {dimension}-dimensional embeddings but the "
                f"query has {len(embedding)}.",
                "query with the embedder the collection was built with, or re-ingest with "
                "`kubeplan ingest --rebuild`.",
            )
        if k <= 0:
            return []
        # Chroma returns fewer than n_results when the collection is smaller (or empty),
        # so no count first: one call, with documents and metadata.
        got = self._read(
            collection,
            "query",
            query_embeddings=[list(embedding)],
            n_results=k,
            where=_where(where),
            include=["documents", "metadatas", "distances"],
        )
        return [
            ScoredChunk(chunk=_from_meta(i, d, m), score=1.0 - float(dist))
            for i, d, m, dist in zip(
                got["ids"][0],
                got["documents"][0],
                got["metadatas"][0],
                got["distances"][0],
                strict=True,
            )
        ]

    def count(self, collection: str) -> int:
        return int(self._read(collection, "count"))

    def get_meta(self, collection: str) -> dict[str, Any]:
        meta = self._collection(collection).metadata or {}
        return {k: v for k, v in meta.items() if not k.startswith("hnsw:")}

    def set_meta(self, collection: str, meta: Mapping[str, Any]) -> None:
        col = self._collection(collection, create=True)
        merged = {**(col.metadata or {}), **{k: v for k, v in meta.items() if v is not None}}
        self._call(col.modify, metadata=merged)

    def drop(self, collection: str) -> None:
        self._handles.pop(collection, None)
        if collection in self.collections():
            self._call(self._client.delete_collection, collection)

    # -- helpers --------------------------------------------------------------------------
    def _cached(self, name: str) -> Any:
        col = self._handles.get(name)
        if col is None:
            col = self._collection(name)
        return col

    def _read(self, name: str, method: str, **kwargs: Any) -> Any:
        """``method`` of the cached handle; a stale handle is refetched once."""
        from chromadb.errors import NotFoundError

        try:
            return getattr(self._cached(name), method)(**kwargs)
        except NotFoundError:
            self._handles.pop(name, None)
        except Exception as exc:
            raise self._translate(exc) from exc
        return self._call(getattr(self._cached(name), method), **kwargs)

    def _collection(self, name: str, create: bool = False) -> Any:
        _check_name(name)
        if create:
            col = self._call(
                self._client.get_or_create_collection,
                name,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            self._handles[name] = col
            return col
        from chromadb.errors import NotFoundError

        try:
            col = self._client.get_collection(name, embedding_function=None)
            self._handles[name] = col
            return col
        except NotFoundError as exc:
            raise CollectionNotFoundError(
                f"Collection {name!r} does not exist in {self._location}.",
                f"ingest documents first: `kubeplan ingest --collection {name}`.",
            ) from exc
        except Exception as exc:
            raise self._translate(exc) from exc

    def _pages(self, col: Any, include: list[str]) -> Iterator[tuple[list[str], list[Any]]]:
        offset = 0
        while True:
            got = self._call(col.get, include=include, limit=5000, offset=offset)
            if not got["ids"]:
                return
            yield got["ids"], got["metadatas"]
            offset += len(got["ids"])

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, StoreError | ValueError) and not _is_connection_error(exc):
            return exc
        if _is_connection_error(exc):
            return StoreUnavailableError(
                f"The Chroma server at {self._location} stopped answering ({exc}).",
                f"check that it still runs (e.g. `.venv/bin/{_SERVER_HINT}`).",
            )
        return StoreError(
            f"The store at {self._location} failed: {type(exc).__name__}: {exc}",
            "if the store is damaged, run `kubeplan ingest --rebuild`.",
        )


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("connect", "connection refused", "timed out", "timeout"))


def _check_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]", name):
        raise InputError(
            f"Invalid collection name {name!r}.",
            "use 3-512 characters from letters, digits, '.', '_' and '-', starting and "
            "ending with a letter or digit.",
        )


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not where:
        return None
    unknown = sorted(set(where) - set(FILTER_KEYS))
    if unknown:
        raise InputError(
            f"Cannot filter on {unknown}.", f"filter only on {', '.join(FILTER_KEYS)}."
        )
    clauses = [{key: {"$eq": value}} for key, value in where.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _import_chroma() -> tuple[Any, Any]:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb, ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def open_store(settings: Settings) -> ChromaStore:
    """The server store when ``chroma_url`` is set, else the embedded one under data_dir."""
    if settings.chroma_url:
        return ChromaStore.http(settings.chroma_url)
    return ChromaStore.persistent(settings.store_dir)


def check_embedder(store: VectorStore, collection: str, name: str, dimension: int) -> None:
    """Raise ``StoreError`` when ``collection`` was built with another embedder.

    A missing collection, or one without a recorded embedder, passes.
    """
    if collection not in store.collections():
        return
    meta = store.get_meta(collection)
    stored_name, stored_dim = meta.get("embedder"), meta.get("dimension")
    if (stored_name is not None and stored_name != name) or (
        isinstance(stored_dim, int) and stored_dim != dimension
    ):
        raise StoreError(
            f"Collection {collection!r} was built with embedder {stored_name} "
            f"({stored_dim} dimensions), not {name} ({dimension}).",
            f"re-ingest it with the current embedder: `kubeplan ingest --collection "
            f"{collection} --rebuild`, or set KUBEPLAN_EMBEDDING_MODEL back.",
        )
