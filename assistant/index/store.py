"""Vector stores behind the ``VectorStore`` protocol. chromadb is imported only here.

``ChromaStore`` wraps an embedded (``PersistentClient``), server (``HttpClient``) or
in-memory (``EphemeralClient``) Chroma; ``open_store`` picks one from ``Settings``.
Chroma metadata values must be scalars, so lists are joined here and split back:
nothing outside this module sees a chromadb type.

Generations: a logical collection ``name`` is read through a *pointer* naming the
physical collection (``name__g<hex>``) that holds its last complete ingest. Ingest
(``assistant.generations``) writes a new physical collection and publishes it by
switching the pointer in one atomic step: ``pointer.json`` replaced with ``os.replace``
in the embedded store, the metadata of ``name__pointer`` on a server. A name without a
pointer is its own physical collection (stores written before generations, direct writes).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from assistant.config import Settings
from assistant.errors import (
    CollectionNotFoundError,
    InputError,
    KubeplanError,
    StoreDamagedError,
    StoreError,
    StoreUnavailableError,
)
from assistant.schemas import Chunk, ScoredChunk


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
        """Delete the collection (every generation of it); a missing one is not an error."""
        ...

    # Generations: physical collections addressed by name, never through a pointer.
    def pointer(self, collection: str) -> Pointer | None:
        """The published generation of ``collection`` (``None`` before the first publish)."""
        ...

    def generations(self, collection: str) -> list[str]:
        """Every physical collection holding a generation of ``collection``."""
        ...

    def publish(self, collection: str, physical: str) -> None:
        """Atomically point readers of ``collection`` at the physical ``physical``."""
        ...

    def copy_into(self, source: str, target: str, *, skip_existing: bool = False) -> int:
        """Copy chunks and embeddings between physical collections; returns how many."""
        ...

    def drop_generation(self, physical: str) -> None:
        """Delete one physical collection; a missing one is not an error."""
        ...


# --------------------------------------------------------------------------- chroma

#: Metadata keys ``query(where=...)`` filters on.
FILTER_KEYS = ("topic", "collection", "path", "doc_id", "source", "root")
_SEP = " > "
_SERVER_HINT = "chroma run --path .kubeplan/server --host 127.0.0.1 --port 8000"
_UPSERT_BATCH = 1000
#: Cached read handles per store before the cache starts over (a few generations' worth).
_MAX_HANDLES = 32


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
        "flags": ",".join(chunk.flags),
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
        flags=[f for f in str(m.get("flags", "")).split(",") if f],
    )


def _opt(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --------------------------------------------------------------------------- generations

#: A physical collection holding one generation of a logical one: ``<name>__g<hex>``.
_GENERATION = re.compile(r"(?P<name>.+)__g[0-9a-f]{8,32}")
#: Server and in-memory stores keep a collection's pointer in this (empty) collection.
POINTER_SUFFIX = "__pointer"
#: The embedded store keeps every pointer in this file inside the store folder.
POINTER_FILE = "pointer.json"
_POINTER_KEY = "kp_pointer"
_DAMAGE_WORDS = (
    "malformed",
    "not a database",
    "no such table",
    "nothing found on disk",
    "hnsw segment reader",
)
_DAMAGE_FIX = "run `kubeplan doctor --repair` (it moves the damaged store aside and rebuilds it)."


@dataclass(frozen=True)
class Pointer:
    """Which physical collection readers of a logical collection see, and the one before it
    (kept until the next publish so requests that started on it can finish)."""

    physical: str
    previous: str | None = None
    published: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"physical": self.physical, "previous": self.previous, "published": self.published}

    @classmethod
    def from_json(cls, data: Any) -> Pointer:
        if not isinstance(data, dict) or not isinstance(data.get("physical"), str):
            raise ValueError(f"not a pointer record: {data!r}")
        previous = data.get("previous")
        return cls(
            physical=data["physical"],
            previous=previous if isinstance(previous, str) else None,
            published=str(data.get("published", "")),
        )


def generation_name(collection: str) -> str:
    """A fresh physical name for a new generation of ``collection``."""
    return f"{collection}__g{uuid.uuid4().hex[:16]}"


def is_internal(name: str) -> bool:
    """Whether ``name`` is a generation or pointer collection rather than a logical one."""
    return bool(_GENERATION.fullmatch(name)) or name.endswith(POINTER_SUFFIX)


class _PointerFile:
    """Pointers of an embedded store: one JSON file replaced atomically (``os.replace``).

    Readers re-read it only when its stat signature changes, so resolving a pointer on
    every request costs one ``stat``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[int, int, int] | None = None
        self._cache: dict[str, Pointer] = {}
        self._lock = threading.Lock()

    def all(self) -> dict[str, Pointer]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._signature, self._cache = None, {}
                return {}
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            if signature != self._signature:
                self._cache = self._read()
                self._signature = signature
            return dict(self._cache)

    def get(self, name: str) -> Pointer | None:
        return self.all().get(name)

    def put(self, name: str, pointer: Pointer | None) -> None:
        records = {k: v.to_json() for k, v in self._read().items()}
        if pointer is None:
            if name not in records:
                return
            records.pop(name)
        else:
            records[name] = pointer.to_json()
        payload = json.dumps({"version": 1, "collections": records}, sort_keys=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def _read(self) -> dict[str, Pointer]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise _damaged(self.path.parent, f"{self.path} cannot be read ({exc})") from exc
        try:
            data = json.loads(text)
            records = data["collections"]
            return {str(k): Pointer.from_json(v) for k, v in records.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _damaged(self.path.parent, f"{self.path} is not a valid pointer file") from exc


class _PointerCollections:
    """Pointers of a server (or in-memory) store: the metadata of ``<name>__pointer``."""

    def __init__(self, store: ChromaStore) -> None:
        self._store = store

    def all(self) -> dict[str, Pointer]:
        names = [n for n in self._store.physical_names() if n.endswith(POINTER_SUFFIX)]
        found = {}
        for n in names:
            pointer = self.get(n[: -len(POINTER_SUFFIX)])
            if pointer is not None:
                found[n[: -len(POINTER_SUFFIX)]] = pointer
        return found

    def get(self, name: str) -> Pointer | None:
        col = self._store.raw_collection(name + POINTER_SUFFIX, missing_ok=True)
        if col is None:
            return None
        raw = (col.metadata or {}).get(_POINTER_KEY)
        if raw is None:
            return None
        try:
            return Pointer.from_json(json.loads(str(raw)))
        except ValueError as exc:
            raise _damaged(self._store.location, f"the pointer of {name!r} is invalid") from exc

    def put(self, name: str, pointer: Pointer | None) -> None:
        if pointer is None:
            self._store.drop_generation(name + POINTER_SUFFIX)
            return
        col = self._store.raw_collection(name + POINTER_SUFFIX, create=True)
        # One metadata update is atomic on the server: readers see the old pointer or the new.
        self._store.call(col.modify, metadata={_POINTER_KEY: json.dumps(pointer.to_json())})


def _damaged(where: Path | str, what: str) -> StoreDamagedError:
    return StoreDamagedError(f"The store in {where} is damaged: {what}.", _DAMAGE_FIX)


def check_database_file(path: Path, wait: float = 1.0) -> None:
    """Raise ``StoreDamagedError`` when the embedded store's database is empty or not SQLite.

    A database being created by another process is empty for a moment: wait ``wait``
    seconds for it to get its header before calling it damaged.
    """
    db = path / "chroma.sqlite3"
    deadline = time.monotonic() + wait
    while True:
        try:
            with db.open("rb") as fh:
                header = fh.read(16)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _damaged(path, f"{db} cannot be read ({exc})") from exc
        if header == b"SQLite format 3\x00":
            return
        if time.monotonic() >= deadline:
            what = "is empty (0 bytes)" if not header else "is not an SQLite database"
            raise _damaged(path, f"{db} {what}")
        time.sleep(0.1)


class ChromaStore:
    """A ``VectorStore`` on Chroma, in cosine space (score = 1 - cosine distance).

    Every public method takes a *logical* collection name and resolves it, per call,
    through the collection's pointer to the physical generation readers should see (the
    name itself when there is no pointer). Ingest writes a new generation and publishes
    it (``publish``), so a reader never sees half an ingest, and never reads a physical
    collection that is still changing: Chroma caches an index per process, and a
    collection that changed under that cache reads stale or fails.
    """

    def __init__(self, client: Any, location: str, path: Path | None = None) -> None:
        self._client = client
        self._location = location
        self._path = path
        self._db_signature = _db_signature(path) if path else None
        self._pointers: _PointerFile | _PointerCollections = (
            _PointerFile(path / POINTER_FILE) if path else _PointerCollections(self)
        )
        self._reopen_lock = threading.Lock()
        # Read-path handles by physical name, so a query is one store call instead of a
        # lookup by name, a count and the query. Dropped when the client is reopened;
        # a handle on a collection dropped (or dropped and recreated) elsewhere fails
        # with "does not exist" and is fetched again (``_with``).
        self._handles: dict[str, Any] = {}

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def persistent(cls, path: Path) -> ChromaStore:
        """An embedded store in ``path`` (created when missing). One writer at a time."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the embedded store folder {path}: {exc}",
                "check that KUBEPLAN_DATA_DIR is writable.",
            ) from exc
        return cls(_open_persistent(path), str(path.resolve()), path)

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
        names = {n for n in self.physical_names() if not is_internal(n)}
        return sorted(names | set(self._pointers.all()))

    def upsert(
        self, collection: str, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("upsert needs one embedding per chunk")
        if not chunks:
            return
        col = self.raw_collection(self._resolve(collection), create=True)
        for start in range(0, len(chunks), _UPSERT_BATCH):
            part = chunks[start : start + _UPSERT_BATCH]
            self.call(
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
        unique = sorted(set(hashes))

        def op(col: Any) -> dict[str, list[float]]:
            out: dict[str, list[float]] = {}
            for start in range(0, len(unique), _UPSERT_BATCH):
                got = col.get(
                    where={"content_hash": {"$in": unique[start : start + _UPSERT_BATCH]}},
                    include=["metadatas", "embeddings"],
                )
                for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                    key = str((meta or {}).get("content_hash", ""))
                    if key and key not in out:
                        out[key] = [float(x) for x in vector]
            return out

        return self._with(collection, op)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        ids = list(ids)

        def op(col: Any) -> None:
            for start in range(0, len(ids), _UPSERT_BATCH):
                col.delete(ids=ids[start : start + _UPSERT_BATCH])

        self._with(collection, op)

    def get(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        wanted = list(ids)

        def op(col: Any) -> list[Chunk]:
            if not wanted:
                return []
            got = col.get(ids=wanted, include=["documents", "metadatas"])
            by_id = {
                i: _from_meta(i, d, m)
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            return [by_id[i] for i in wanted if i in by_id]

        return self._with(collection, op)

    def ids_by_path(self, collection: str) -> dict[str, set[str]]:
        def op(col: Any) -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for ids, metas in _pages(col, include=["metadatas"]):
                for i, m in zip(ids, metas, strict=True):
                    out.setdefault(str((m or {}).get("source", "")), set()).add(i)
            return out

        return self._with(collection, op)

    def iter_chunks(self, collection: str, batch_size: int = 1000) -> Iterator[Chunk]:
        # One resolution for the whole walk: every page comes from the same generation.
        col = self._with(collection, lambda c: c)
        offset = 0
        while True:
            got = self.call(
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
        clause = _where(where)

        def op(col: Any) -> list[ScoredChunk]:
            dimension = (col.metadata or {}).get("dimension")
            if isinstance(dimension, int) and dimension != len(embedding):
                raise StoreError(
                    f"Collection {collection!r} holds {dimension}-dimensional embeddings but "
                    f"the query has {len(embedding)}.",
                    "query with the embedder the collection was built with, or re-ingest "
                    "with `kubeplan ingest --rebuild`.",
                )
            if k <= 0:
                return []
            # No count first: Chroma answers fewer than n_results from a smaller (or
            # empty) collection, so the search is one call with documents and metadata.
            got = col.query(
                query_embeddings=[list(embedding)],
                n_results=k,
                where=clause,
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

        return self._with(collection, op, cached=True)

    def count(self, collection: str) -> int:
        return int(self._with(collection, lambda col: col.count(), cached=True))

    def get_meta(self, collection: str) -> dict[str, Any]:
        meta = self._with(collection, lambda col: col.metadata) or {}
        return {k: v for k, v in meta.items() if not k.startswith("hnsw:")}

    def set_meta(self, collection: str, meta: Mapping[str, Any]) -> None:
        physical = self._resolve(collection)
        self._handles.pop(physical, None)  # its metadata (the dimension) may change
        col = self.raw_collection(physical, create=True)
        merged = {**(col.metadata or {}), **{k: v for k, v in meta.items() if v is not None}}
        self.call(col.modify, metadata=merged)

    def drop(self, collection: str) -> None:
        _check_name(collection)
        if is_internal(collection):
            self.drop_generation(collection)
            return
        # The pointer first: readers then see a missing collection, never a dropped one.
        self._pointers.put(collection, None)
        for physical in self.generations(collection):
            self.drop_generation(physical)

    # -- generations ------------------------------------------------------------------------
    def pointer(self, collection: str) -> Pointer | None:
        """The published generation of ``collection``; ``None`` before its first publish."""
        self._fresh()
        return self._pointers.get(collection)

    def generations(self, collection: str) -> list[str]:
        """Physical collections holding ``collection``'s data: the unversioned one (stores
        written before generations) and every ``<name>__g<hex>``, published or not."""
        found = []
        for n in self.physical_names():
            m = _GENERATION.fullmatch(n)
            if n == collection or (m and m.group("name") == collection):
                found.append(n)
        return found

    def publish(self, collection: str, physical: str) -> None:
        """Point readers of ``collection`` at ``physical`` in one atomic step; the
        generation they saw so far becomes ``previous``."""
        _check_name(collection)
        current = self.pointer(collection)
        if current is not None:
            previous: str | None = current.physical
        else:
            previous = collection if collection in self.physical_names() else None
        if previous == physical:
            previous = current.previous if current else None
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._pointers.put(collection, Pointer(physical, previous, stamp))

    def copy_into(self, source: str, target: str, *, skip_existing: bool = False) -> int:
        """Copy chunks with their embeddings from physical ``source`` into physical
        ``target`` (created when missing); ``skip_existing`` leaves ids ``target`` holds."""
        src = self.raw_collection(source)
        dst = self.raw_collection(target, create=True)
        have: set[str] = set()
        if skip_existing:
            for ids, _ in _pages(dst, include=[]):
                have.update(ids)
        copied = offset = 0
        while True:
            got = self.call(
                src.get,
                include=["embeddings", "documents", "metadatas"],
                limit=_UPSERT_BATCH,
                offset=offset,
            )
            if not got["ids"]:
                return copied
            offset += len(got["ids"])
            keep = [j for j, i in enumerate(got["ids"]) if i not in have]
            if keep:
                self.call(
                    dst.upsert,
                    ids=[got["ids"][j] for j in keep],
                    embeddings=[list(map(float, got["embeddings"][j])) for j in keep],
                    documents=[got["documents"][j] for j in keep],
                    metadatas=[got["metadatas"][j] for j in keep],
                )
                copied += len(keep)

    def drop_generation(self, physical: str) -> None:
        """Delete one physical collection (never through a pointer); missing is fine."""
        from chromadb.errors import NotFoundError

        self._handles.pop(physical, None)
        try:
            self._client.delete_collection(physical)
        except NotFoundError:
            return
        except Exception as exc:
            if "does not exist" in str(exc):
                return
            raise self._translate(exc) from exc

    def physical_names(self) -> list[str]:
        self._fresh()
        return sorted(c.name for c in self.call(self._client.list_collections))

    def raw_collection(self, physical: str, create: bool = False, missing_ok: bool = False) -> Any:
        """The Chroma collection ``physical`` itself, with no pointer resolution."""
        _check_name(physical)
        if create:
            return self.call(
                self._client.get_or_create_collection,
                physical,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        from chromadb.errors import NotFoundError

        try:
            return self._client.get_collection(physical, embedding_function=None)
        except NotFoundError as exc:
            if missing_ok:
                return None
            raise CollectionNotFoundError(
                f"Collection {physical!r} does not exist in {self._location}.",
                f"ingest documents first: `kubeplan ingest --collection {physical}`.",
            ) from exc
        except Exception as exc:
            raise self._translate(exc) from exc

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._translate(exc) from exc

    # -- helpers --------------------------------------------------------------------------
    def _resolve(self, name: str) -> str:
        _check_name(name)
        self._fresh()
        if is_internal(name):
            return name  # a physical collection: no pointer to read (a request saved)
        pointer = self._pointers.get(name)
        return pointer.physical if pointer else name

    def _handle(self, physical: str) -> Any:
        col = self._handles.get(physical)
        if col is None:
            col = self.raw_collection(physical)
            if len(self._handles) >= _MAX_HANDLES:
                self._handles.clear()  # generations collected long ago: start over
            self._handles[physical] = col
        return col

    def _with(self, name: str, op: Callable[[Any], _T], *, cached: bool = False) -> _T:
        """Run ``op`` on the collection ``name`` resolves to now. Retried once when the
        pointer moved meanwhile (the generation was collected), when an embedded
        client's cache went stale (reopened first), or when a ``cached`` handle names a
        collection that was dropped (and perhaps recreated) since it was fetched."""
        physical = self._resolve(name)
        for attempt in (0, 1):
            try:
                return op(self._handle(physical) if cached else self.raw_collection(physical))
            except CollectionNotFoundError as exc:
                now = self._resolve(name)
                if attempt == 0 and now != physical:
                    physical = now
                    continue
                if now != name:
                    raise _damaged(
                        self._location,
                        f"the pointer of collection {name!r} names {now!r}, which is missing",
                    ) from exc
                raise CollectionNotFoundError(
                    f"Collection {name!r} does not exist in {self._location}.",
                    f"ingest documents first: `kubeplan ingest --collection {name}`.",
                ) from exc
            except KubeplanError:
                raise
            except Exception as exc:
                stale = cached and self._handles.pop(physical, None) is not None
                if attempt == 0 and stale and _is_missing(exc):
                    physical = self._resolve(name)
                    continue
                error = self._translate(exc)
                now = self._resolve(name)
                if attempt == 0 and now != physical:
                    physical = now
                    continue
                if attempt == 0 and isinstance(error, StoreDamagedError) and self._path:
                    # A cached index of a collection another process changed in place:
                    # a fresh client reads it from disk.
                    self._reopen()
                    continue
                raise error from exc
        raise AssertionError("unreachable")

    def _fresh(self) -> None:
        """Reopen an embedded client whose store folder was created or replaced since."""
        if self._path is None:
            return
        if _db_signature(self._path) != self._db_signature:
            self._reopen()

    def _reopen(self) -> None:
        assert self._path is not None
        with self._reopen_lock:
            self._client = _open_persistent(self._path, evict=True)
            self._handles = {}
            self._db_signature = _db_signature(self._path)
            if isinstance(self._pointers, _PointerFile):
                self._pointers = _PointerFile(self._path / POINTER_FILE)

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, KubeplanError | ValueError) and not _is_connection_error(exc):
            return exc
        if _is_connection_error(exc):
            return StoreUnavailableError(
                f"The Chroma server at {self._location} stopped answering ({exc}).",
                f"check that it still runs (e.g. `.venv/bin/{_SERVER_HINT}`).",
            )
        text = str(exc).lower()
        if any(word in text for word in _DAMAGE_WORDS):
            return _damaged(self._location, f"{type(exc).__name__}: {exc}")
        return StoreError(
            f"The store at {self._location} failed: {type(exc).__name__}: {exc}",
            f"if it keeps failing, check it with `kubeplan doctor`; {_DAMAGE_FIX}",
        )


_T = TypeVar("_T")


def _db_signature(path: Path) -> tuple[int, int] | None:
    try:
        st = (path / "chroma.sqlite3").stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


#: The database file each folder's shared Chroma state was opened on, in this process.
_OPENED: dict[str, tuple[int, int] | None] = {}


def _open_persistent(path: Path, evict: bool = False) -> Any:
    chromadb, chroma_settings = _import_chroma()
    check_database_file(path)
    if evict or _OPENED.get(str(path), _db_signature(path)) != _db_signature(path):
        _evict(path)
    last: Exception | None = None
    for attempt in range(3):
        try:
            path.mkdir(parents=True, exist_ok=True)
            with _unchecked_overrides():  # the client imports more of chromadb
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            _OPENED[str(path)] = _db_signature(path)
            return client
        except Exception as exc:
            # Two processes creating the same new store race on its schema: try again.
            last = exc
            _evict(path)
            time.sleep(0.2 * (attempt + 1))
    if (path / "chroma.sqlite3").exists():
        raise _damaged(path, f"Chroma cannot open it ({type(last).__name__}: {last})") from last
    raise StoreError(
        f"Cannot open the embedded store in {path}: {last}",
        "check that the folder is writable, or point KUBEPLAN_DATA_DIR elsewhere.",
    ) from last


def _evict(path: Path) -> None:
    """Forget this process's Chroma state for ``path``. Chroma shares one client state per
    folder and process; a store replaced on disk needs a new one (the old one keeps
    serving whoever still holds it)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(path), None)


def _pages(col: Any, include: list[str]) -> Iterator[tuple[list[str], list[Any]]]:
    offset = 0
    while True:
        got = col.get(include=include, limit=5000, offset=offset)
        if not got["ids"]:
            return
        yield got["ids"], got.get("metadatas") or [None] * len(got["ids"])
        offset += len(got["ids"])


def _is_missing(exc: Exception) -> bool:
    """Chroma's answer to a handle whose collection no longer exists."""
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or "does not exist" in str(exc)


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
    with _unchecked_overrides():
        import chromadb
        from chromadb.config import Settings as ChromaSettings

    return chromadb, ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _mark_override(method: Any = None, **_: Any) -> Any:
    """``overrides.override`` without its check: marks the method as an override (which
    ``EnforceOverrides`` looks for) and returns it unchanged."""
    if method is None:
        return _mark_override
    method.__override__ = True
    return method


@contextmanager
def _unchecked_overrides() -> Iterator[None]:
    """While chromadb's modules load, ``@override`` only marks methods. The real decorator
    disassembles the class body and compares signatures for each of chromadb's ~170
    overriding methods: a check of chromadb's own code against itself that was a third of
    importing chromadb, i.e. 0.2 s of every cold ``kubeplan ask``. Restored afterwards, so
    any other user of the package keeps the check."""
    try:
        import overrides
    except ImportError:  # a chromadb version without it
        yield
        return
    with _OVERRIDES_LOCK:  # two threads opening stores must not save each other's patch
        saved = overrides.override, overrides.overrides
        overrides.override = overrides.overrides = _mark_override
        try:
            yield
        finally:
            overrides.override, overrides.overrides = saved


_OVERRIDES_LOCK = threading.RLock()


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
