"""Publishing an ingest atomically: write a new generation, then switch the pointer.

``StagedCollection`` is a ``VectorStore`` view for the ingest pipeline in which one
logical collection is redirected to a *staging* generation (a physical collection
``<name>__g<hex>``). Readers keep resolving the published pointer, so they see the last
complete ingest until ``publish`` switches the pointer in one atomic step.

- Copy on first write: until the pipeline first changes something it reads the
  published generation; the first upsert or delete copies it (embeddings included,
  nothing re-embedded) into the staging generation, then applies the change there.
  An ingest that changes nothing creates nothing and publishes nothing.
- ``--rebuild`` (``drop``) starts the staging generation empty; the old generation stays
  published until the new one is complete.
- kill -9 at any point: before the pointer switch the published generation is untouched
  and the staging generation is left behind with ``kp_state=staging`` and its base; the
  next ingest on the same base resumes it (finishing an interrupted copy first), so the
  work already embedded is kept, and the pipeline's usual store-is-the-truth comparison
  converges it. After the switch only garbage collection remains, which the next
  publish repeats.
- Garbage collection after a switch keeps the new generation and the previous one
  (requests that resolved the pointer just before the switch finish on it; a reader that
  finds its generation gone resolves again), and drops the rest, including staging
  generations of an older base, which can no longer be resumed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from assistant.errors import CollectionNotFoundError
from assistant.index.store import Pointer, VectorStore, generation_name
from assistant.schemas import Chunk, ScoredChunk

STATE = "kp_state"
BASE = "kp_base"
MODE = "kp_mode"
COPIED = "kp_copied"
CREATED = "kp_created"


class StagedCollection:
    """``store`` with ``collection`` redirected to a staging generation; see the module doc.

    Other collections pass straight through to ``store``.
    """

    def __init__(self, store: VectorStore, collection: str) -> None:
        self._store = store
        self._name = collection
        pointer = store.pointer(collection)
        physical = set(store.generations(collection))
        if pointer is not None:
            self._base: str | None = pointer.physical
        else:
            self._base = collection if collection in physical else None
        self._fresh = False
        self._pending: dict[str, Any] = {}
        self._target: str | None = self._resumable()
        self.resumed = self._target is not None
        if self._target is not None and not self._store.get_meta(self._target).get(COPIED):
            self._copy()

    def vectors_by_content_hash(
        self, collection: str, hashes: Sequence[str]
    ) -> dict[str, list[float]]:
        """Vectors of the published generation (what the staging one was copied from), so
        ingest reuses them instead of running the model; empty when the store cannot."""
        reuse = getattr(self._store, "vectors_by_content_hash", None)
        return dict(reuse(collection, hashes)) if reuse is not None else {}

    # -- the staging life cycle -------------------------------------------------------------
    @property
    def target(self) -> str | None:
        """The staging generation, once this ingest has written anything."""
        return self._target

    def commit(self) -> str | None:
        """Switch readers to the staging generation and collect old ones; returns it.

        When nothing was written, metadata set meanwhile (the ingest time) goes to the
        published generation in place: that never changes what a reader retrieves.
        """
        if self._target is None:
            if self._pending and self._base is not None:
                self._store.set_meta(self._base, self._pending)
            elif self._pending or self._fresh:
                self._start()
            self._pending = {}
            if self._target is None:
                self.collect()  # what a run killed after its switch left behind
                return None
        target = self._target
        self._store.set_meta(target, {**self._pending, STATE: "published"})
        self._pending = {}
        self._store.publish(self._name, target)
        self.collect()
        return target

    def collect(self) -> list[str]:
        """Drop generations no reader can need any more; returns their names."""
        pointer: Pointer | None = self._store.pointer(self._name)
        if pointer is None:
            return []
        keep = {pointer.physical, pointer.previous}
        dropped = []
        for physical in self._store.generations(self._name):
            if physical in keep:
                continue
            meta = _meta_or_empty(self._store, physical)
            if meta.get(STATE) == "staging" and meta.get(BASE) == pointer.physical:
                continue  # another writer's work on the current generation (server mode)
            self._store.drop_generation(physical)
            dropped.append(physical)
        return dropped

    def _resumable(self) -> str | None:
        """A staging generation a killed ingest left on the same base, newest first."""
        found = []
        for physical in self._store.generations(self._name):
            if physical in (self._base, self._name):
                continue
            meta = _meta_or_empty(self._store, physical)
            if (
                meta.get(STATE) == "staging"
                and meta.get(MODE) == "update"
                and meta.get(BASE, "") == (self._base or "")
            ):
                found.append((str(meta.get(CREATED, "")), physical))
        return max(found)[1] if found else None

    def _start(self) -> str:
        if self._target is not None:
            return self._target
        target = generation_name(self._name)
        copy = self._base is not None and not self._fresh
        base_meta = self._store.get_meta(self._base) if copy and self._base else {}
        base_meta = {k: v for k, v in base_meta.items() if not k.startswith("kp_")}
        self._store.set_meta(
            target,
            {
                **base_meta,
                **self._pending,
                STATE: "staging",
                BASE: self._base or "",
                MODE: "update" if copy or self._base is None else "rebuild",
                COPIED: not copy,
                CREATED: dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            },
        )
        self._pending = {}
        self._target = target
        if copy:
            self._copy()
        return target

    def _copy(self) -> None:
        assert self._target is not None
        if self._base is not None:
            self._store.copy_into(self._base, self._target, skip_existing=self.resumed)
        self._store.set_meta(self._target, {COPIED: True})

    def _reads(self, collection: str) -> str:
        """The physical collection reads of ``collection`` go to."""
        if collection != self._name:
            return collection
        if self._target is not None:
            return self._target
        if self._fresh or self._base is None:
            raise CollectionNotFoundError(f"Collection {collection!r} is being created.")
        return self._base

    # -- VectorStore ----------------------------------------------------------------------
    @property
    def location(self) -> str:
        return self._store.location

    def collections(self) -> list[str]:
        names = set(self._store.collections())
        if self._target is not None:
            names.add(self._name)
        elif self._fresh or self._base is None:
            names.discard(self._name)
        return sorted(names)

    def upsert(
        self, collection: str, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None:
        if collection == self._name and chunks:
            collection = self._start()
        self._store.upsert(collection, chunks, embeddings)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if collection == self._name and ids:
            collection = self._start()
        self._store.delete(collection, ids)

    def get(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        return self._store.get(self._reads(collection), ids)

    def ids_by_path(self, collection: str) -> dict[str, set[str]]:
        return self._store.ids_by_path(self._reads(collection))

    def iter_chunks(self, collection: str, batch_size: int = 1000) -> Iterator[Chunk]:
        return self._store.iter_chunks(self._reads(collection), batch_size)

    def query(
        self,
        collection: str,
        embedding: Sequence[float],
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        return self._store.query(self._reads(collection), embedding, k, where)

    def count(self, collection: str) -> int:
        return self._store.count(self._reads(collection))

    def get_meta(self, collection: str) -> dict[str, Any]:
        if collection == self._name and self._target is None:
            return {**self._store.get_meta(self._reads(collection)), **self._pending}
        return self._store.get_meta(self._reads(collection))

    def set_meta(self, collection: str, meta: Mapping[str, Any]) -> None:
        if collection != self._name:
            self._store.set_meta(collection, meta)
        elif self._target is not None:
            self._store.set_meta(self._target, meta)
        elif self._fresh or self._base is None:
            self._pending.update(meta)
            self._start()
        else:
            # Held until the first write (or applied in place when nothing changes).
            self._pending.update(meta)

    def drop(self, collection: str) -> None:
        if collection != self._name:
            self._store.drop(collection)
            return
        # --rebuild: start from nothing, but keep serving the published generation.
        self._fresh = True
        self._target = None
        self.resumed = False
        self._pending = {}

    def pointer(self, collection: str) -> Pointer | None:
        return self._store.pointer(collection)

    def generations(self, collection: str) -> list[str]:
        return self._store.generations(collection)

    def publish(self, collection: str, physical: str) -> None:
        self._store.publish(collection, physical)

    def copy_into(self, source: str, target: str, *, skip_existing: bool = False) -> int:
        return self._store.copy_into(source, target, skip_existing=skip_existing)

    def drop_generation(self, physical: str) -> None:
        self._store.drop_generation(physical)


def _meta_or_empty(store: VectorStore, physical: str) -> dict[str, Any]:
    try:
        return store.get_meta(physical)
    except CollectionNotFoundError:
        return {}
