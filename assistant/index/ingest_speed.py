"""What makes ingest cheap: location-free source keys, embedding each distinct text
once, reusing vectors the store already holds, and writing on a background thread.

- Source keys (and so chunk ids and manifest keys) start with the ingested root's
  *name*, not its absolute path: a moved or re-cloned checkout has the same ids.
  ``migrate_legacy_sources`` maps keys of stores written before that (absolute paths)
  onto the new ones, so their chunks are replaced, not duplicated.
- ``VectorSource`` embeds each distinct embedding text once per run (boilerplate
  repeated across pages costs one forward pass) and, when the collection already
  holds a chunk with the same content hash (a renamed root, a legacy id, a copied
  file), reuses its stored vector instead of running the model.
- ``BackgroundWriter`` runs store writes in order on one thread while the model
  embeds the next batch.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from assistant.index.embedding import Embedder
from assistant.ingest.chunking import embedding_text
from assistant.schemas import Chunk


@dataclass(frozen=True)
class IngestTuning:
    """Switches for the levers, so the ingest benchmark can measure each one."""

    reuse_vectors: bool = True
    write_thread: bool = True
    #: Chunks embedded per model call (0: eight model batches). The model sorts each
    #: call's texts by length, so a larger call pads less (benchmarks/bench_ingest.py
    #: measures it); a smaller one loses less work to a crash.
    flush_chunks: int = 0


def root_label(root: Path | str) -> str:
    """The name chunk ids use for an ingested root: its folder name."""
    name = Path(str(root)).name
    return name or "root"


def migrate_legacy_sources(
    stored: Mapping[str, set[str]], roots: Mapping[str, Path]
) -> dict[str, set[str]]:
    """``stored`` (source -> ids) with absolute-path sources renamed to ``label/rel``.

    A legacy source under one of this run's roots (``roots``: label -> absolute path)
    maps to that root. One whose path no longer exists (a moved checkout) maps to the
    last ``/<label>/`` segment it contains. Others keep their key: they belong to roots
    this run does not walk.
    """
    out: dict[str, set[str]] = {}
    for source, ids in stored.items():
        key = _new_key(source, roots) if source.startswith("/") else source
        out.setdefault(key, set()).update(ids)
    return out


def _new_key(source: str, roots: Mapping[str, Path]) -> str:
    for label, path in roots.items():
        prefix = path.as_posix().rstrip("/") + "/"
        if source.startswith(prefix):
            return f"{label}/{source[len(prefix):]}"
    if os.path.exists(source):
        return source
    best = -1
    key = source
    for label in roots:
        at = source.rfind(f"/{label}/")
        if at > best:
            best, key = at, source[at + 1 :]
    return key


_CACHE_ENTRIES = 50_000


@runtime_checkable
class ReusableVectors(Protocol):
    """A store that can hand back stored vectors by chunk content hash."""

    def vectors_by_content_hash(
        self, collection: str, hashes: Sequence[str]
    ) -> dict[str, list[float]]: ...


class VectorSource:
    """Vectors for chunks: from this run's cache, from the store, else from the model."""

    def __init__(
        self, embedder: Embedder, store: object, collection: str, reuse_store: bool
    ) -> None:
        self._embedder = embedder
        self._collection = collection
        self._store = store if reuse_store and isinstance(store, ReusableVectors) else None
        # float32 arrays, bounded: a 50k-chunk run keeps ~75 MB, not 600 MB of floats.
        self._by_text: OrderedDict[str, array[float]] = OrderedDict()
        self.embedded = 0  # texts the model embedded
        self.reused = 0  # chunks whose vector came from the store
        self.deduplicated = 0  # chunks whose text was already embedded this run

    def vectors(self, chunks: Sequence[Chunk]) -> list[list[float]]:
        texts = [embedding_text(c) for c in chunks]
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        from_store: set[str] = set()
        if self._store is not None:
            # Equal content hashes mean equal embedding texts (the hash covers them).
            wanted = {c.content_hash: k for c, k in zip(chunks, keys, strict=True)
                      if k not in self._by_text}
            if wanted:
                found = self._store.vectors_by_content_hash(self._collection, list(wanted))
                for content_hash, vector in found.items():
                    key = wanted.get(content_hash)
                    if key is not None and key not in self._by_text:
                        self._remember(key, vector)
                        from_store.add(key)
        todo: dict[str, str] = {}
        for text, key in zip(texts, keys, strict=True):
            if key in from_store:
                self.reused += 1
            elif key in self._by_text or key in todo:
                self.deduplicated += 1
            else:
                todo[key] = text
        known: dict[str, Sequence[float]] = {
            k: self._by_text[k] for k in keys if k in self._by_text
        }
        if todo:
            fresh = self._embedder.embed_documents(list(todo.values()))
            self.embedded += len(fresh)
            for key, vector in zip(todo, fresh, strict=True):
                self._remember(key, vector)
                known[key] = vector
        return [list(known[k]) for k in keys]

    def _remember(self, key: str, vector: Sequence[float]) -> None:
        self._by_text[key] = array("f", vector)
        if len(self._by_text) > _CACHE_ENTRIES:
            self._by_text.popitem(last=False)


class BackgroundWriter:
    """Runs write jobs in submission order on one thread; a failure is raised on the
    next ``submit`` or at ``close``. With ``threaded=False`` jobs run inline."""

    def __init__(self, threaded: bool = True, depth: int = 2) -> None:
        self._threaded = threaded
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._loop, name="kubeplan-writer",
                                            daemon=True)
            self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        if self._thread is None:
            job()
            return
        self._jobs.put(job)

    def close(self) -> None:
        """Wait for every submitted job; raise the first failure."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None:
                continue  # the run is failing: drop later writes, keep the store consistent
            try:
                job()
            except BaseException as exc:  # re-raised on the caller's thread
                self._error = exc
