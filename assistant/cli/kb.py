"""``kubeplan ingest``, ``kubeplan stats``, ``kubeplan config``: wiring only."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from assistant.cli import app, err_console

if TYPE_CHECKING:
    from assistant.chain.api import Assistant
    from assistant.index.indexer import IngestProgress
    from assistant.schemas import IngestReport

console = Console()

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: settings).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders or files to ingest (default: the bundled corpus/)."),
    ] = None,
    collection: CollectionOpt = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop the collection and ingest afresh.")
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only files matching this glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip files matching this glob (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load, chunk, embed and store documents; a re-run embeds only what changed."""
    from assistant.chain.api import Assistant
    from assistant.config import load_settings

    assistant = Assistant(load_settings())
    with _progress() as on_progress:
        report = assistant.ingest(
            paths or None,
            collection=collection,
            rebuild=rebuild,
            include=include or (),
            exclude=exclude or (),
            progress=on_progress,
        )
    _export_query_model(assistant)
    # The card index (card vectors, the learned card model) is built from the catalogue
    # once per corpus content and cached: building it here, where the model is already
    # loaded, keeps that one-time work out of the first question.
    assistant.card_index()
    if as_json:
        data = report.model_dump(mode="json")
        data["chunks_per_second"] = round(report.chunks_per_second, 2)
        # ensure_ascii: the JSON stays valid UTF-8 (and ASCII) whatever the file names are.
        typer.echo(json.dumps(data, indent=2, ensure_ascii=True))
    else:
        _print_report(report)
    if report.files_seen and report.files_ingested + report.files_unchanged == 0:
        err_console.print("[bold red]error:[/] no file could be ingested (see the reasons above)")
        raise typer.Exit(1)


def _export_query_model(assistant: Assistant) -> None:
    """The ONNX export questions are embedded with in the UI and chat (once per model and
    toolchain, cached); a failure leaves the numpy encoder in charge, never fails ingest."""
    try:
        assistant.export_query_model()
    except Exception as exc:  # an optional speed-up must not fail an ingest
        err_console.print(
            f"[yellow]warning:[/] no ONNX query encoder ({type(exc).__name__}: {exc}); "
            "questions are embedded with the numpy encoder."
        )


@app.command()
def stats(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """Chunks, sources and topics of a collection, its last ingest time and location."""
    from assistant.chain.api import Assistant
    from assistant.config import load_settings

    result = Assistant(load_settings()).stats(collection)
    if as_json:
        console.print_json(result.model_dump_json())
        return
    table = Table(title=f"collection {result.collection}", show_header=False)
    table.add_row("chunks", str(result.chunks))
    table.add_row("sources", str(result.sources))
    table.add_row(
        "last ingest", result.last_ingest.isoformat() if result.last_ingest else "never"
    )
    table.add_row("location", result.location)
    for topic, n in result.topics.items():
        table.add_row(f"topic {topic}", str(n))
    console.print(table)


@app.command()
def config(as_json: JsonOpt = False) -> None:
    """The effective settings and where each value came from."""
    from assistant.config import load_settings

    infos = load_settings().describe()
    if as_json:
        console.print_json(json.dumps([i.model_dump() for i in infos]))
        return
    table = Table(title="kubeplan settings")
    for column in ("setting", "value", "from", "description"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(info.env, info.value, info.source, info.description)
    console.print(table)


class _progress:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            self._bar: Any = None
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[chunks]} chunks embedded, {task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("files", total=None, chunks=0, rate=0.0)
        return self._update

    def _update(self, event: IngestProgress) -> None:
        elapsed = self._bar.tasks[0].elapsed or 0.0
        rate = event.chunks_embedded / elapsed if elapsed > 0 else 0.0
        self._bar.update(
            self._task,
            total=event.files_total,
            completed=event.files_done,
            chunks=event.chunks_embedded,
            rate=rate,
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _print_report(report: IngestReport) -> None:
    table = Table(title=f"ingest into {report.collection}", show_header=False)
    table.add_row("roots", "\n".join(report.roots))
    table.add_row(
        "files",
        f"{report.files_seen} seen, {report.files_ingested} ingested, "
        f"{report.files_unchanged} unchanged, {len(report.files_skipped)} skipped, "
        f"{len(report.files_failed)} failed",
    )
    table.add_row(
        "chunks",
        f"{report.chunks_added} added, {report.chunks_updated} updated, "
        f"{report.chunks_unchanged} unchanged, {report.chunks_deleted} deleted "
        f"({report.chunks_embedded} embedded)",
    )
    table.add_row(
        "safety",
        f"{report.secrets_redacted} credential(s) redacted, "
        f"{report.chunks_flagged} passage(s) flagged as instruction-like",
    )
    table.add_row(
        "time",
        f"{report.seconds:.1f} s, {report.chunks_per_second:.1f} chunks/s"
        + (" (rebuilt)" if report.rebuilt else ""),
    )
    if report.moved_aside:
        table.add_row("damaged store", f"moved aside to {report.moved_aside}")
    console.print(table)
    for title, issues in (
        ("skipped", report.files_skipped),
        ("failed", report.files_failed),
        ("warnings", report.warnings),
    ):
        if issues:
            listing = Table(title=title, show_header=False)
            for issue in issues[:50]:
                listing.add_row(issue.path, issue.reason)
            if len(issues) > 50:
                listing.add_row("...", f"{len(issues) - 50} more (use --json for all)")
            console.print(listing)
