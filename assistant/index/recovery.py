"""Recovering a damaged embedded store: move it aside (never delete it), start afresh.

Used by ``kubeplan ingest --rebuild`` and ``kubeplan doctor --repair``; both hold the
ingest lock while they call it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from assistant.config import Settings
from assistant.errors import StoreDamagedError, StoreError
from assistant.index.store import VectorStore, open_store


def move_aside(store_dir: Path) -> Path:
    """Rename ``store_dir`` to ``<store_dir>.damaged-<UTC time>``; returns the new path.

    A rename keeps every byte for a post-mortem, and processes that still hold the old
    files keep reading them until they notice the new store (they compare the database
    file's inode on every call).
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = store_dir.with_name(f"{store_dir.name}.damaged-{stamp}")
    os.replace(store_dir, target)
    return target


def probe(store: VectorStore, collection: str | None = None) -> None:
    """Read what a rebuild would read, raising ``StoreDamagedError`` on damage."""
    names = store.collections()
    for name in names if collection is None else [n for n in names if n == collection]:
        store.get_meta(name)
        store.count(name)


def open_for_rebuild(
    settings: Settings,
    collection: str,
    store_factory: Callable[[], VectorStore] | None = None,
) -> tuple[VectorStore, Path | None]:
    """The store to rebuild ``collection`` in, and where a damaged one was moved to.

    A server store cannot be moved aside from here: its damage is an error to fix there.
    """
    factory = store_factory or (lambda: open_store(settings))
    try:
        store = factory()
        probe(store, collection)
        return store, None
    except StoreDamagedError:
        if settings.chroma_url:
            raise
        if not settings.store_dir.exists():
            raise
    try:
        moved = move_aside(settings.store_dir)
    except OSError as exc:
        raise StoreError(
            f"Cannot move the damaged store {settings.store_dir} aside: {exc}",
            "move or rename the folder yourself, then run `kubeplan ingest --rebuild`.",
        ) from exc
    return factory(), moved
