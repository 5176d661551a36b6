"""The ingestion pipeline: walk, load, chunk, embed, upsert, delete; incremental and crash-safe.

The store is the source of truth. A file counts as unchanged only when its bytes hash
to what the manifest recorded AND the store holds exactly the chunk ids the manifest
lists for it; otherwise the file is chunked again and compared with what the store
holds. Per file, new chunks are upserted before stale ones are deleted, so a run killed
at any point (kill -9) leaves at worst extra chunks, which the next run deletes. The
manifest (``<data_dir>/manifests/``) is only a cache, rewritten atomically at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import InputError, StoreLockedError
from assistant.index.embedding import Embedder
from assistant.index.generations import StagedCollection
from assistant.index.ingest_speed import (
    BackgroundWriter,
    IngestTuning,
    VectorSource,
    migrate_legacy_sources,
    root_label,
)
from assistant.index.keyword import KeywordIndexes
from assistant.index.store import VectorStore, check_embedder
from assistant.ingest.chunking import embedding_text, source_key
from assistant.ingest.loading import FoundFile, SkippedFile, read_file, safe_name, walk
from assistant.ingest.loading import file_hash as hash_bytes
from assistant.ingest.parse_worker import FilePreparer
from assistant.ingest.prepare import PrepareSpec, Rejected
from assistant.schemas import Chunk, CollectionStats, FileIssue, IngestReport

#: Raised whenever chunking changes what a chunk carries (2: curated sections cite their
#: decision's own source URL), so files whose bytes did not change are re-chunked once and
#: their stored chunks refreshed.
MANIFEST_VERSION = 2


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest run is; handed to the progress callback after each file and batch."""

    files_total: int
    files_done: int
    chunks_embedded: int
    chunks_pending: int
    current: str = ""


ProgressCallback = Callable[[IngestProgress], None]


# --------------------------------------------------------------------------- lock


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / "ingest.lock"


@contextlib.contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """Hold the write lock of the embedded store; a no-op in server mode.

    Chroma's embedded store is not process-safe, so a second writer must not start.
    """
    if settings.chroma_url:
        yield
        return
    from filelock import FileLock, Timeout

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(settings)
    info = path.with_name(path.name + ".pid")
    lock = FileLock(str(path), timeout=settings.lock_timeout, thread_local=False)
    try:
        lock.acquire()
    except Timeout as exc:
        try:
            pid = info.read_text(encoding="utf-8").strip() or "?"
        except OSError:
            pid = "?"
        raise StoreLockedError(
            f"Another kubeplan process (pid {pid}) is writing {settings.data_dir}.",
            "wait for it to finish, or set KUBEPLAN_LOCK_TIMEOUT=seconds to wait for it.",
        ) from exc
    try:
        # The lock file itself is truncated by every process that tries it: keep the
        # owner's pid beside it.
        info.write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()


# --------------------------------------------------------------------------- manifest


def manifest_path(settings: Settings, location: str, collection: str) -> Path:
    tag = hashlib.sha1(location.encode("utf-8")).hexdigest()[:8]
    return settings.data_dir / "manifests" / f"{collection}-{tag}.json"


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """source -> {"file_hash", "chunk_ids"}; empty when missing or unreadable (it is a cache)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return {}
    sources = data.get("sources")
    return sources if isinstance(sources, dict) else {}


def read_manifest_roots(path: Path) -> list[str]:
    """The folders and files the collection was ingested from (for ``doctor --repair``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    roots = data.get("roots") if isinstance(data, dict) else None
    return [str(r) for r in roots] if isinstance(roots, list) else []


def write_manifest(
    path: Path,
    collection: str,
    sources: dict[str, dict[str, Any]],
    roots: Sequence[str] = (),
) -> None:
    """Write atomically: a crash leaves the old manifest or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {
        "version": MANIFEST_VERSION,
        "collection": collection,
        "sources": sources,
        "roots": sorted(roots),
    }
    tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- pipeline


@dataclass
class _FileWork:
    source: str
    stale: set[str]
    waiting: int  # new chunks of this file not yet upserted


@dataclass
class _Run:
    store: VectorStore
    embedder: Embedder
    collection: str
    report: IngestReport
    flush_size: int
    progress: ProgressCallback | None
    files_total: int = 0
    files_done: int = 0
    pending: list[tuple[Chunk, _FileWork]] = field(default_factory=list)
    started: bool = False  # whether this run has changed the store yet
    vectors: VectorSource | None = None
    walked_roots: list[Path] = field(default_factory=list)
    preparer: FilePreparer | None = None
    writer: BackgroundWriter = field(default_factory=lambda: BackgroundWriter(threaded=False))

    def notify(self, current: str = "") -> None:
        if self.progress:
            self.progress(
                IngestProgress(
                    files_total=self.files_total,
                    files_done=self.files_done,
                    chunks_embedded=self.report.chunks_embedded,
                    chunks_pending=len(self.pending),
                    current=current,
                )
            )

    def before_write(self) -> None:
        # A new generation before the first write: a reader never pairs the old
        # generation with a changed store, even if this run dies before its end.
        if not self.started:
            self.started = True
            self.store.set_meta(self.collection, {"generation": _new_generation()})

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.writer.submit(lambda: self._delete_now(ids))

    def _delete_now(self, ids: Sequence[str]) -> None:
        self.before_write()
        self.store.delete(self.collection, sorted(ids))

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        chunks = [c for c, _ in batch]
        if self.vectors is not None:
            reused_before = self.vectors.reused + self.vectors.deduplicated
            vectors = self.vectors.vectors(chunks)
            self.report.chunks_reused += (
                self.vectors.reused + self.vectors.deduplicated - reused_before
            )
        else:
            vectors = self.embedder.embed_documents([embedding_text(c) for c in chunks])
        self.report.chunks_embedded += len(batch)
        done = []
        for _, work in batch:
            work.waiting -= 1
            if work.waiting == 0:
                done.append(work)

        def write() -> None:
            # New chunks before stale ones go: a crash leaves extras, never gaps.
            self.before_write()
            self.store.upsert(self.collection, chunks, vectors)
            for work in done:
                if work.stale:
                    self.store.delete(self.collection, sorted(work.stale))

        self.writer.submit(write)
        self.notify()


def run_ingest(
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    store: VectorStore,
    embedder: Embedder,
    collection: str | None = None,
    rebuild: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    tuning: IngestTuning | None = None,
) -> IngestReport:
    """Bring ``collection`` in line with the files under ``paths``; see the module doc."""
    started = time.perf_counter()
    tuning = tuning or IngestTuning()
    name = collection or settings.collection
    found = walk(
        [Path(p) for p in paths],
        include=include,
        exclude=exclude,
        allowed_suffixes=settings.allowed_suffixes,
        corpus_dir=settings.corpus_dir,
    )
    roots = [r.as_posix() for r in found.roots]
    roots += sorted({f.root.as_posix() for f in found.files} - set(roots))
    report = IngestReport(
        collection=name,
        roots=[safe_name(r) for r in roots],
        files_skipped=list(found.skipped),
        rebuilt=rebuild,
    )
    # Every write goes to a new generation that readers see only once it is complete.
    staged = StagedCollection(store, name)
    raw_store, store = store, staged
    if rebuild:
        store.drop(name)
    check_embedder(store, name, embedder.name, embedder.dimension)
    existed = name in store.collections()
    if not existed:
        store.set_meta(name, {"embedder": embedder.name, "dimension": embedder.dimension})
    labels = {root_label(r): r for r in found.roots}
    for item in found.files:
        labels.setdefault(root_label(item.root), item.root)
    stored = migrate_legacy_sources(store.ids_by_path(name), labels)
    mpath = manifest_path(settings, store.location, name)
    manifest = {} if rebuild else read_manifest(mpath)
    new_manifest: dict[str, dict[str, Any]] = {}
    preparer = FilePreparer(
        PrepareSpec(
            collection=name,
            max_tokens=min(settings.chunk_tokens, embedder.max_tokens),
            overlap=settings.chunk_overlap,
            count_tokens=embedder.count_tokens,
            corpus_dir=settings.corpus_dir,
            redact_secrets=settings.redact_secrets,
        ),
        settings.parse_timeout,
    )
    run = _Run(
        store=store,
        embedder=embedder,
        collection=name,
        report=report,
        flush_size=tuning.flush_chunks or max(settings.embed_batch_size * 8, 16),
        progress=progress,
        files_total=len(found.files),
        vectors=VectorSource(embedder, store, name, reuse_store=existed and tuning.reuse_vectors),
        writer=BackgroundWriter(threaded=tuning.write_thread),
        walked_roots=list(found.roots),
        preparer=preparer,
    )
    try:
        removed = _walk_and_write(run, found, stored, manifest, new_manifest, settings,
                                  filtered=bool(include or exclude), labels=labels)
    finally:
        preparer.close()
        run.writer.close()
    for source, entry in manifest.items():
        # Sources of other roots in this collection keep their cache entries.
        if source not in new_manifest and source in stored and source not in removed:
            new_manifest[source] = entry
    meta: dict[str, Any] = {"last_ingest": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if run.started:
        meta["generation"] = _new_generation()
    store.set_meta(name, meta)
    if staged.target is not None:
        # Every reader's first search on a new generation would otherwise rebuild this
        # index from the store at the same moment, which is most of the readers' tail
        # latency right after a publish (benchmarks/bench_readers.py); built once here,
        # they load it memory-mapped.
        KeywordIndexes(raw_store, settings.data_dir).get(name, source=staged.target)
    staged.commit()
    write_manifest(mpath, name, new_manifest, _manifest_roots(mpath, roots, new_manifest))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _walk_and_write(
    run: _Run,
    found: Any,
    stored: dict[str, set[str]],
    manifest: dict[str, dict[str, Any]],
    new_manifest: dict[str, dict[str, Any]],
    settings: Settings,
    *,
    filtered: bool,
    labels: dict[str, Path],
) -> set[str]:
    """Ingest every found file, then delete what is gone; returns the removed sources."""
    seen: set[str] = set()
    for item in found.files:
        source = source_key(root_label(item.root), item.rel)
        if source in seen:
            continue
        seen.add(source)
        run.report.files_seen += 1
        run.files_done += 1
        _ingest_file(run, item, source, stored, manifest, new_manifest, settings)
        if len(run.pending) >= run.flush_size:
            run.flush()
        run.notify(item.rel)
    run.flush()
    return _delete_removed(run, labels, seen, stored, filtered=filtered)


def _ingest_file(
    run: _Run,
    item: FoundFile,
    source: str,
    stored: dict[str, set[str]],
    manifest: dict[str, dict[str, Any]],
    new_manifest: dict[str, dict[str, Any]],
    settings: Settings,
) -> None:
    report = run.report
    old = stored.get(source, set())
    try:
        data = read_file(item, max_file_bytes=settings.max_file_bytes)
    except SkippedFile as exc:
        report.files_skipped.append(FileIssue(path=item.rel, reason=exc.problem))
        _keep(source, old, manifest, new_manifest)
        return
    digest = hash_bytes(data)
    known = manifest.get(source)
    if (
        known
        and known.get("file_hash") == digest
        and old
        and set(known.get("chunk_ids", ())) == old
    ):
        report.files_unchanged += 1
        report.chunks_unchanged += len(old)
        new_manifest[source] = known
        return
    # Parsing, the credential scan and chunking run under the per-file time limit, in a
    # worker process that is killed when a hostile file makes any of them spin.
    assert run.preparer is not None
    outcome = run.preparer.prepare(item, data, root_label(item.root))
    if isinstance(outcome, Rejected):
        # Nothing already stored is lost: the file's previous chunks stay.
        issues = report.files_skipped if outcome.skipped else report.files_failed
        issues.append(FileIssue(path=item.rel, reason=outcome.reason))
        _keep(source, old, manifest, new_manifest)
        return
    doc, chunks, redactions = outcome.doc, outcome.chunks, outcome.redactions
    report.warnings.extend(FileIssue(path=item.rel, reason=w) for w in doc.warnings)
    if redactions:
        report.secrets_redacted += redactions
        report.warnings.append(
            FileIssue(
                path=item.rel,
                reason=f"{redactions} credential(s) redacted before storing (detect-secrets)",
            )
        )
    flagged = sum(1 for c in chunks if c.flags)
    if flagged:
        report.chunks_flagged += flagged
        report.warnings.append(
            FileIssue(
                path=item.rel,
                reason=f"{flagged} passage(s) contain instruction-like text (flagged)",
            )
        )
    expected = {c.id: c for c in chunks}
    new_ids = [i for i in expected if i not in old]
    stale = old - expected.keys()
    kept = len(expected) - len(new_ids)
    updated = min(len(new_ids), len(stale))
    report.chunks_updated += updated
    report.chunks_added += len(new_ids) - updated
    report.chunks_deleted += len(stale) - updated
    report.chunks_unchanged += kept
    if new_ids or stale:
        report.files_ingested += 1
    else:
        report.files_unchanged += 1
    new_manifest[source] = {"file_hash": digest, "chunk_ids": sorted(expected)}
    work = _FileWork(source=source, stale=set(stale), waiting=len(new_ids))
    if not new_ids:
        run.delete(sorted(stale))
        return
    run.pending.extend((expected[i], work) for i in new_ids)


def _keep(
    source: str,
    old: set[str],
    manifest: dict[str, dict[str, Any]],
    new_manifest: dict[str, dict[str, Any]],
) -> None:
    """A file that could not be read this time keeps what the store has of it."""
    if old:
        previous = manifest.get(source, {})
        new_manifest[source] = {
            "file_hash": previous.get("file_hash", ""),
            "chunk_ids": sorted(old),
        }


def _delete_removed(
    run: _Run,
    labels: dict[str, Path],
    seen: set[str],
    stored: dict[str, set[str]],
    filtered: bool,
) -> set[str]:
    """Delete chunks of sources under the walked roots that are gone.

    Without include/exclude globs, a source the walk did not find is gone. With them,
    only sources whose file no longer exists are: a narrower run must not wipe the rest.
    Other roots' chunks in the same collection are never touched.
    """
    walked = {label: path for label, path in labels.items() if path in run.walked_roots}
    removed: set[str] = set()
    for source, ids in stored.items():
        label, _, rel = source.partition("/")
        if source in seen or label not in walked:
            continue
        if filtered and (walked[label] / rel).exists():
            continue
        run.report.chunks_deleted += len(ids)
        run.delete(sorted(ids))
        removed.add(source)
    return removed


def _manifest_roots(
    path: Path, roots: Sequence[str], sources: dict[str, dict[str, Any]]
) -> list[str]:
    """The real folders the collection's sources came from, for ``doctor --repair``.

    Source keys start with a root's folder name (``root_label``), not its path, so the
    manifest is where the paths are kept: this run's roots, and earlier runs' roots that
    still have a source in the collection. An earlier root whose name one of this run's
    roots now carries is the same root moved (its sources have the same keys): only the
    new path is kept. Sources keyed by absolute paths (stores written before location-free
    keys) keep their roots too.
    """
    current = set(roots)
    taken = {root_label(r) for r in current}
    earlier = {r for r in read_manifest_roots(path) if root_label(r) not in taken}
    labels = {s.partition("/")[0] for s in sources}
    return sorted(
        r
        for r in current | earlier
        if root_label(r) in labels
        or r in sources
        or any(s.startswith(r.rstrip("/") + "/") for s in sources)
    )


def _new_generation() -> str:
    return uuid.uuid4().hex


def ingest(
    paths: Sequence[Path | str] | None,
    *,
    settings: Settings,
    collection: str | None = None,
    rebuild: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    embedder: Embedder | None = None,
    store_factory: Callable[[], VectorStore] | None = None,
) -> IngestReport:
    """Run the pipeline under the write lock (what ``Assistant.ingest`` does).

    ``paths`` defaults to ``settings.corpus_dir``. The store is opened (by
    ``store_factory``, default ``open_store``) only once the lock is held. With
    ``rebuild`` a damaged embedded store is moved aside first (``report.moved_aside``).
    """
    from assistant.index.embedding import make_embedder
    from assistant.index.recovery import open_for_rebuild
    from assistant.index.store import open_store

    targets = list(paths) if paths else [settings.corpus_dir]
    for target in targets:
        if not Path(target).expanduser().exists():
            raise InputError(
                f"{target} does not exist.",
                "pass a folder or file that exists (the default is the bundled corpus/).",
            )
    embedder = embedder or make_embedder(settings)
    with ingest_lock(settings):
        moved = None
        name = collection or settings.collection
        if rebuild:
            store, moved = open_for_rebuild(settings, name, store_factory)
        else:
            store = store_factory() if store_factory else open_store(settings)
        report = run_ingest(
            targets,
            settings=settings,
            store=store,
            embedder=embedder,
            collection=collection,
            rebuild=rebuild,
            include=include,
            exclude=exclude,
            progress=progress,
        )
        if moved is not None:
            report.moved_aside = moved.as_posix()
        return report


def check_ingest_folder(folder: Path | str, settings: Settings) -> Path:
    """``folder`` resolved, if it lies under one of the roots a server may ingest from
    (``settings.allowed_ingest_roots()``); ``InputError`` otherwise. Symbolic links are
    resolved first, so a link inside a root cannot point the server elsewhere. The message
    names no server path: it is shown to whoever uses the UI."""
    resolved = Path(folder).expanduser().resolve()
    for root in settings.allowed_ingest_roots():
        if resolved == root or root in resolved.parents:
            return resolved
    raise InputError(
        "this server only ingests folders under its configured ingest roots, and that "
        "folder is not under one.",
        "upload the files instead, or ask the operator to add the folder to "
        "KUBEPLAN_INGEST_ROOTS (comma-separated folders).",
    )


def collection_stats(store: VectorStore, collection: str) -> CollectionStats:
    """Chunk, source and topic counts of a collection (``CollectionNotFoundError`` if absent)."""
    # Every figure from one generation, even if an ingest publishes another meanwhile.
    pointer = store.pointer(collection)
    source = pointer.physical if pointer else collection
    count = store.count(source)
    sources: set[str] = set()
    topics: dict[str, int] = {}
    for chunk in store.iter_chunks(source):
        sources.add(source_key(chunk.root, chunk.path))
        if chunk.topic:
            topics[chunk.topic] = topics.get(chunk.topic, 0) + 1
    last = store.get_meta(source).get("last_ingest")
    last_ingest = None
    if isinstance(last, str):
        with contextlib.suppress(ValueError):
            last_ingest = dt.datetime.fromisoformat(last)
    return CollectionStats(
        collection=collection,
        chunks=count,
        sources=len(sources),
        topics=dict(sorted(topics.items())),
        last_ingest=last_ingest,
        location=store.location,
    )
