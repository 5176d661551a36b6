"""``kubeplan doctor [--repair] [--json]``: wiring and rendering only."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.cli import app

console = Console(highlight=False)
_STYLE = {"ok": "green", "warning": "yellow", "damaged": "bold red", "error": "red"}


@app.command()
def doctor(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Move a damaged store aside (never deleted) and rebuild it from the "
            "manifests' roots or the bundled corpus.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the store, each collection and its pointer, the manifests, the model and
    the settings; exit 1 when something is damaged or wrong."""
    from assistant.config import load_settings
    from assistant.errors import ConfigError
    from assistant.index.doctor import Check, DoctorReport, diagnose
    from assistant.index.doctor import repair as run_repair

    try:
        settings = load_settings()
    except ConfigError as exc:
        report = DoctorReport(
            checks=[Check(name="settings", status="error", detail=exc.problem, fix=exc.fix)]
        )
    else:
        report = run_repair(settings) if repair else diagnose(settings)
    if as_json:
        data = report.model_dump(mode="json")
        data["ok"] = report.ok
        console.print_json(json.dumps(data))
    else:
        table = Table(title="kubeplan doctor")
        for column in ("check", "status", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for check in report.checks:
            style = _STYLE[check.status]
            table.add_row(
                escape(check.name),
                f"[{style}]{check.status}[/]",
                escape(check.detail),
                escape(check.fix or ""),
            )
        console.print(table)
        for action in report.repaired:
            console.print(f"repair: {escape(action)}")
    if not report.ok:
        raise typer.Exit(1)
