"""``kubeplan eval``: score answers (or retrieval) against eval cases, write reports, gate on a
baseline. All logic lives in ``assistant.evaluation``; this module parses options and prints."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.cli import app
from assistant.config import BUNDLED_CORPUS

if TYPE_CHECKING:
    from assistant.evaluation.results import EvalReport

#: Where the project keeps its eval files (next to the bundled corpus in a checkout).
EVALS_DIR = BUNDLED_CORPUS.parent / "evals"


def _evals_dir() -> Path:
    local = Path("evals")
    return local if (local / "cases.yaml").is_file() else EVALS_DIR


@contextmanager
def _progress(console: Console, label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar on a terminal; nothing when stderr is redirected (CI logs)."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[case]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, case="")

        def update(done: int, total: int, case: str) -> None:
            bar.update(task, completed=done, total=total, case=case)

        yield update


@app.command("eval")
def eval_command(
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="One answer-case file (YAML) instead of --split."),
    ] = None,
    split: Annotated[
        str,
        typer.Option("--split", help="Eval split: dev (evals/cases.yaml + evals/suites), "
                     "heldout (evals/heldout) or all."),
    ] = "dev",
    ablate: Annotated[
        list[str] | None,
        typer.Option("--ablate", metavar="NAME", help="Also run with this engine component "
                     "switched off (repeatable; 'all' = each component in turn)."),
    ] = None,
    allowed_regressions: Annotated[
        Path | None,
        typer.Option("--allowed-regressions", help="Cases allowed to fail although they pass "
                     "in --baseline. Default: evals/allowed-regressions.yaml."),
    ] = None,
    fit_support: Annotated[
        bool,
        typer.Option("--fit-support", help="Refit the citation-support threshold on "
                     "evals/support-pairs.yaml, write it, and exit."),
    ] = False,
    backend: Annotated[
        list[str] | None,
        typer.Option(
            "--backend", "-b", metavar="NAME",
            help="Backend to evaluate; repeat to compare several.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Report folder. Default: evals/results/<timestamp>/."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Earlier report.json or baseline file to compare with."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", help="Largest allowed drop of a headline metric vs baseline."),
    ] = 0.02,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            metavar="METRIC=VALUE",
            help="METRIC=VALUE: fail when a metric is below VALUE (above, for must_not_rate "
            "and latency). Repeatable.",
        ),
    ] = None,
    retrieval: Annotated[
        Path | None,
        typer.Option("--retrieval", help="Retrieval set (YAML): question -> expected documents."),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option("--collection", help="Collection to retrieve from (retrieval evals)."),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Passages retrieved per question.")]
    = 10,
    write_baseline_to: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Also write this run as a compact baseline file."),
    ] = None,
) -> None:
    """Run eval cases over one or more backends (or a retrieval set over a collection)."""
    from assistant.chain.api import Assistant
    from assistant.errors import InputError
    from assistant.evaluation import (
        compare,
        gate,
        load_report,
        load_retrieval_set,
        parse_fail_under,
        run_eval,
        run_retrieval_eval,
        write_baseline,
        write_reports,
    )
    from assistant.evaluation.ablate import resolve, run_ablations
    from assistant.evaluation.regressions import describe, load_allowed_regressions, newly_failing
    from assistant.evaluation.splits import SPLIT_CHOICES, load_cases_file, load_split

    console = Console()
    err = Console(stderr=True)
    bounds = parse_fail_under(fail_under or [])
    components = resolve(ablate or [])
    if split not in SPLIT_CHOICES:
        raise InputError(f"unknown split {split!r}.", f"use one of: {', '.join(SPLIT_CHOICES)}.")
    assistant = Assistant()
    if fit_support:
        _fit_support(console, assistant)
        return
    if retrieval is not None:
        rset = load_retrieval_set(retrieval)
        with _progress(err, f"retrieval {rset.name}") as progress:
            report = run_retrieval_eval(
                assistant, rset, collection=collection, k=k, progress=progress,
                cases_file=str(retrieval),
            )
    else:
        case_list = load_cases_file(cases) if cases else load_split(_evals_dir(), split)
        source = str(cases) if cases else f"{_evals_dir()} (split {split})"
        with _progress(err, "eval") as progress:
            report = run_eval(
                assistant, case_list, backend or None, k=k, progress=progress,
                cases_file=source,
            )
        if components:
            main = report.backends[0]
            with _progress(err, "ablations") as progress:
                rows = run_ablations(
                    assistant, case_list, report.splits[main], components, main, k=k,
                    embedder=assistant.embedder, progress=progress,
                )
            report = report.model_copy(update={"ablations": rows})
    failing: list[str] = []
    if baseline is not None:
        base = load_report(baseline)
        report = report.model_copy(
            update={
                "comparison": compare(
                    report, base, baseline_name=str(baseline), tolerance=tolerance,
                )
            }
        )
        if report.kind == "answers":
            allowed = load_allowed_regressions(
                allowed_regressions or _evals_dir() / "allowed-regressions.yaml"
            )
            failing = [f"newly failing: {describe(r)}"
                       for r in newly_failing(report, base, allowed)]
    # Answer evals gate per case against a baseline; aggregate deltas are reported only.
    verdict = gate(report, bounds, aggregate=report.kind != "answers" or baseline is None)
    report = report.model_copy(
        update={"gate": verdict.model_copy(update={"failures": [*verdict.failures, *failing]})}
    )
    folder = out or Path("evals/results") / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    paths = write_reports(report, folder)
    if write_baseline_to is not None:
        write_baseline(report, write_baseline_to)
    _print_summary(console, report)
    console.print(f"reports: {paths['md']}  {paths['html']}  {paths['json']}")
    if write_baseline_to is not None:
        console.print(f"baseline written: {write_baseline_to}")
    if not report.gate.ok:
        # typer.Exit codes are dropped by `main()` (standalone_mode=False), SystemExit is not.
        sys.exit(1)


def _fit_support(console: Console, assistant: Any) -> None:
    from assistant.evaluation.support import THRESHOLD_FILE, fit_support, load_pairs, save_threshold

    pairs_file = _evals_dir() / "support-pairs.yaml"
    fit = fit_support(assistant.embedder, load_pairs(pairs_file), "evals/support-pairs.yaml")
    save_threshold(fit)
    console.print(
        f"support threshold {fit.threshold:.4f} (balanced accuracy {fit.balanced_accuracy:.3f},"
        f" accuracy {fit.accuracy:.3f}, {fit.pairs} pairs) written to {THRESHOLD_FILE}"
    )


def _print_summary(console: Console, report: EvalReport) -> None:
    from assistant.evaluation.report import ablation_table, fmt, split_rows
    from assistant.evaluation.report import headline_rows as rows_of

    table = Table(title=f"kubeplan {report.kind} eval (95% bootstrap CI)")
    table.add_column("metric", no_wrap=True)
    for b in report.backends:
        table.add_column(b, justify="right")
    for row in rows_of(report):
        # Labels like "status_accuracy[answered]" are not rich markup.
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    if report.kind == "answers" and report.splits:
        _print_table(console, "dev and held-out side by side", *split_rows(report))
    if report.ablations:
        _print_table(console, "ablations (ablated - normal)", *ablation_table(report))
    if report.comparison:
        for bc in report.comparison.backends:
            delta = Table(title=f"{bc.backend} vs {report.comparison.baseline}")
            for col in ("metric", "baseline", "current", "delta", "p (paired)"):
                delta.add_column(col)
            for d in bc.deltas:
                style = "bold red" if d.regression else None
                delta.add_row(
                    escape(d.metric),
                    fmt(d.baseline, d.metric),
                    fmt(d.current, d.metric),
                    "–" if d.delta is None else f"{d.delta:+.3f}",
                    "–" if d.p_bootstrap is None else f"{d.p_bootstrap:.3f}",
                    style=style,
                )
            console.print(delta)
            console.print(escape("newly failing: " + (", ".join(bc.newly_failing) or "none")))
            console.print(escape("newly passing: " + (", ".join(bc.newly_passing) or "none")))
    if report.gate.failures:
        console.print("[bold red]eval gate failed:[/]")
        for failure in report.gate.failures:
            console.print(f"  - {escape(failure)}")


def _print_table(console: Console, title: str, header: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for i, col in enumerate(header):
        table.add_column(escape(col), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
