"""The knowledge base page: stats, passage search, the catalogue, adding documents.

Documents added here go into the collection the chat searches (the sidebar's collection),
so the next chat answer can use them.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import streamlit as st

from assistant.chain.export import escape_markdown as esc
from assistant.errors import InputError, KubeplanError
from assistant.index.indexer import IngestProgress, check_ingest_folder
from assistant.schemas import IngestReport
from assistant.ui.common import Ctx, guarded, public, safe_url, show_error
from assistant.ui.components import source_expander
from assistant.ui.state import state


def kb_page(ctx: Ctx) -> None:
    st.header("Knowledge base")
    collection = ctx.settings.collection
    st.subheader(f"Collection {esc(collection)}")
    done = state().pop("ingest_report", None)
    if done is not None:
        report, notes = done
        for note in notes:
            st.warning(esc(note))
        _render_ingest_report(report)
    try:
        stats = ctx.assistant.stats(collection)
    except KubeplanError as exc:
        show_error(exc)
    else:
        cols = st.columns(3)
        cols[0].metric("Documents", stats.sources)
        cols[1].metric("Chunks", stats.chunks)
        cols[2].metric("Topics", len(stats.topics))
        last = stats.last_ingest.strftime("%Y-%m-%d %H:%M %Z") if stats.last_ingest else "never"
        st.caption(f"Last ingest: {esc(last.strip())}. The chat searches this collection.")
        if stats.topics:
            st.dataframe(
                [{"topic": t, "chunks": n} for t, n in sorted(stats.topics.items())],
                hide_index=True,
            )
    # One broken part (e.g. an invalid corpus document) must not hide the others.
    for section in (_search_section, _catalogue_section, _ingest_section):
        guarded(functools.partial(section, ctx))


def _search_section(ctx: Ctx) -> None:
    st.subheader("Search passages")
    scope = f"topic {ctx.topic}" if ctx.topic else "all topics"
    st.caption(f"Top {ctx.settings.top_k} passages from {scope} (sidebar settings).")
    with st.form("kb_search"):
        query = st.text_input("Query", key="kb_query")
        go = st.form_submit_button("Search")
    if not (go and query.strip()):
        return
    sources = ctx.assistant.retrieve(
        query.strip(), k=ctx.settings.top_k, topic=ctx.topic, collection=ctx.settings.collection
    )
    if not sources:
        st.info("No passage matches.")
    for n, source in enumerate(sources, start=1):
        label = f"[{n}] {source.title}" + (f" — {source.section}" if source.section else "")
        if source.flags:
            # Said before the title: the passage reads like orders to an assistant.
            label = f"⚠ {', '.join(source.flags)}: {label}"
        source_expander(
            f"{label} (score {source.score:.3f})", source.url, source.path, source.snippet,
            f"hit_{n}",
        )


def _catalogue_section(ctx: Ctx) -> None:
    st.subheader("Decision catalogue")
    catalogue = ctx.assistant.catalogue()
    topics = sorted({d.topic for d in catalogue})
    if not topics:
        st.info("The catalogue is empty: the corpus has no decisions.")
        return
    start = topics.index(ctx.topic) if ctx.topic in topics else 0
    # Keyed by the filter so that changing the sidebar filter re-opens the list on its topic.
    topic = st.selectbox("Topic", topics, index=start, key=f"kb_topic_{ctx.topic or 'all'}")
    for decision in (d for d in catalogue if d.topic == topic):
        with st.expander(esc(f"{decision.title} ({decision.id})"), key=f"dec_{decision.id}"):
            st.markdown("**Recommendation:** " + esc(decision.recommendation))
            st.markdown("**When:**\n" + "\n".join(f"- {esc(w)}" for w in decision.when))
            if decision.avoid_when:
                st.markdown(
                    "**Avoid when:**\n" + "\n".join(f"- {esc(w)}" for w in decision.avoid_when)
                )
            st.markdown("**Trade-offs:**\n" + "\n".join(f"- {esc(t)}" for t in decision.tradeoffs))
            if decision.alternatives:
                st.markdown("**Alternatives:** " + esc(", ".join(decision.alternatives)))
            st.markdown(
                "**Sources:**\n"
                + "\n".join(f"- [{esc(u)}]({safe_url(u)})" for u in decision.sources)
            )


def _upload_name(name: str) -> str:
    """A file name that cannot leave the upload folder."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".")
    return base or "upload"


def _ingest_section(ctx: Ctx) -> None:
    settings = ctx.settings
    st.subheader("Add documents")
    suffixes = [s.lstrip(".") for s in settings.allowed_suffixes]
    limit_mb = max(1, math.ceil(settings.max_file_bytes / 1_000_000))
    st.caption(
        f"Accepted: {esc(', '.join(suffixes))}; at most {limit_mb} MB per file. "
        f"Documents go into collection {esc(settings.collection)}, the one the chat searches."
    )
    with st.form("ingest_folder"):
        folder = st.text_input("Folder on the server", key="ingest_path")
        go_folder = st.form_submit_button("Ingest folder")
    uploads = st.file_uploader(
        "Or upload files",
        type=suffixes,
        accept_multiple_files=True,
        key="ingest_upload",
        max_upload_size=limit_mb,
    )
    go_upload = st.button("Ingest uploaded files", key="ingest_upload_go", disabled=not uploads)
    if go_folder:
        if not folder.strip():
            show_error(InputError("No folder given.", "type the path of a folder on the server."))
            return
        # Only folders under KUBEPLAN_INGEST_ROOTS: the page must not read /etc or $HOME.
        _run_ingest(ctx, [check_ingest_folder(folder.strip(), settings)])
    elif go_upload and uploads:
        target = settings.upload_dir / _upload_name(settings.collection)
        target.mkdir(parents=True, exist_ok=True)
        too_big = [u.name for u in uploads if u.size > settings.max_file_bytes]
        limit = settings.max_file_bytes
        notes = [f"Skipped {name}: larger than {limit} bytes." for name in too_big]
        for upload in uploads:
            if upload.name not in too_big:
                (target / _upload_name(upload.name)).write_bytes(upload.getvalue())
        _run_ingest(ctx, [target], notes)


def _run_ingest(ctx: Ctx, paths: list[Path], notes: list[str] | None = None) -> None:
    bar = st.progress(0.0, text="Ingesting…")

    def progress(p: IngestProgress) -> None:
        if p.files_total:
            bar.progress(
                min(p.files_done / p.files_total, 1.0),
                text=f"Ingesting… {p.files_done}/{p.files_total} files, "
                f"{p.chunks_embedded} chunks embedded",
            )

    try:
        report = ctx.assistant.ingest(paths, collection=ctx.settings.collection, progress=progress)
    except KubeplanError as exc:
        bar.empty()
        show_error(exc)
        return
    bar.progress(1.0, text="Done")
    # Cached data (stats, search results) predates the ingest; the rerun shows fresh stats
    # with the report on top.
    st.cache_data.clear()
    state().ingest_report = (report, notes or [])
    st.rerun()


def _render_ingest_report(report: IngestReport) -> None:
    st.success(
        f"Ingested {report.files_ingested} of {report.files_seen} files "
        f"({report.files_unchanged} unchanged) in {report.seconds:.1f} s."
    )
    cols = st.columns(4)
    cols[0].metric("Chunks added", report.chunks_added)
    cols[1].metric("Updated", report.chunks_updated)
    cols[2].metric("Unchanged", report.chunks_unchanged)
    cols[3].metric("Deleted", report.chunks_deleted)
    issues = [
        {"file": i.path, "outcome": kind, "reason": public(i.reason)}
        for kind, items in (
            ("skipped", report.files_skipped),
            ("failed", report.files_failed),
            ("warning", report.warnings),
        )
        for i in items
    ]
    if issues:
        st.dataframe(issues, hide_index=True)
