"""``kubeplan ask``, ``chat``, ``retrieve``, ``schema``, ``catalogue``: wiring and rendering."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from assistant.cli import app

if TYPE_CHECKING:
    from assistant.chain.api import Assistant
    from assistant.schemas import PlanAnswer, PlanningProfile, Source

console = Console(highlight=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of formatted text.")]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", "-b", help="grounded (offline) or llm (default: settings)."),
]
KOpt = Annotated[
    int | None, typer.Option("--k", "-k", min=1, max=50, help="Passages to retrieve.")
]
TopicOpt = Annotated[str | None, typer.Option("--topic", "-t", help="Only passages of this topic.")]
ProfileOpt = Annotated[
    Path | None,
    typer.Option("--profile", "-p", help="Planning profile as a YAML or JSON file."),
]

_BADGE = {"high": "bold green", "medium": "yellow", "low": "red"}
_STATUS = {
    "answered": "green",
    "insufficient_evidence": "yellow",
    "out_of_scope": "magenta",
}


def _assistant(one_shot: bool = False) -> Assistant:
    """``one_shot``: the process answers once and exits, so ``query_encoder=auto`` means
    numpy (ONNX Runtime's import and session cost more than its faster pass saves)."""
    from assistant.chain.api import Assistant
    from assistant.config import load_settings

    settings = load_settings()
    if one_shot and settings.query_encoder == "auto":
        settings = settings.model_copy(update={"query_encoder": "numpy"})
    return Assistant(settings)


def read_profile(path: Path) -> PlanningProfile:
    """A ``PlanningProfile`` from a YAML or JSON file; ``InputError`` says what is wrong."""
    import yaml
    from pydantic import ValidationError

    from assistant.errors import InputError
    from assistant.ingest.loading import load_yaml_bounded
    from assistant.schemas import PlanningProfile

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the profile file {path}: {exc}", "pass a readable file.") \
            from exc
    try:
        data = load_yaml_bounded(text) or {}
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputError(f"{path} is not valid YAML or JSON: {exc}", "fix the file.") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path} does not hold a mapping.", "write the profile as key: value.")
    try:
        return PlanningProfile.model_validate(data.get("profile", data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        fields = ", ".join(PlanningProfile.model_fields)
        raise InputError(f"{path}: invalid profile: {problems}", f"use the fields {fields}.") \
            from exc


# --------------------------------------------------------------------------- rendering


def source_label(source: Source) -> str:
    where = f"{source.path} ({source.url})" if source.url else source.path
    section = f" \u203a {source.section}" if source.section else ""
    return f"{source.title}{section} \u2014 {where}"


def render_answer(answer: PlanAnswer, out: Console) -> None:
    """Recommendation cards with numbered citations, then the sources they point to."""
    from assistant.understanding.profile import negated_items

    color = _STATUS.get(answer.status, "white")
    out.print(f"[bold {color}]{answer.status.replace('_', ' ')}[/]  {escape(answer.summary)}")
    understood = [c.message for c in answer.meta.profile_changes]
    understood += [f"ruled out {x}" for x in negated_items(answer.meta.negated_profile)]
    if understood:
        out.print("[dim]Understood: " + escape("; ".join(understood)) + "[/]")
    number = {s.id: i for i, s in enumerate(answer.sources, 1)}
    for i, rec in enumerate(answer.recommendations, 1):
        refs = " ".join(f"[{number[c]}]" for c in rec.citations if c in number)
        body = [
            f"[bold]What to do:[/] {escape(rec.recommendation)}",
            f"[bold]Why:[/] {escape(rec.rationale)}",
        ]
        if rec.tradeoffs:
            body.append("[bold]Trade-offs:[/] " + escape("; ".join(rec.tradeoffs)))
        body.append(f"[bold]Sources:[/] {escape(refs)}")
        badge = _BADGE.get(rec.confidence, "white")
        out.print(
            Panel(
                "\n".join(body),
                title=f"{i}. {escape(rec.title)}",
                subtitle=f"[{badge}]{rec.confidence} confidence[/] \u00b7 {rec.decision_id}",
                title_align="left",
                subtitle_align="right",
            )
        )
    if answer.open_questions:
        out.print("[bold]Would change the advice:[/]")
        for q in answer.open_questions:
            out.print(f"  \u2022 {escape(q)}")
    if answer.sources:
        out.print("[bold]Sources[/]")
        for i, src in enumerate(answer.sources, 1):
            out.print(f"  [{i}] {escape(source_label(src))}", soft_wrap=True)


def render_sources(sources: Sequence[Source], out: Console) -> None:
    for i, src in enumerate(sources, 1):
        out.print(f"[bold][{i}][/] {escape(source_label(src))}  [dim]score {src.score:.3f}[/]")
        snippet = src.snippet if len(src.snippet) <= 300 else src.snippet[:299] + "\u2026"
        out.print(f"    {escape(snippet)}", soft_wrap=True)


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- commands


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The planning question.")],
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    k: KOpt = None,
    topic: TopicOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Answer a planning question with cited recommendations."""
    assistant = _assistant(one_shot=True)
    explicit = read_profile(profile) if profile else None
    answer = assistant.ask(question, profile=explicit, backend=backend, k=k, topic=topic)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
    else:
        render_answer(answer, console)


@app.command()
def chat(
    backend: BackendOpt = None,
    k: KOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Interactive planning conversation. /profile shows the profile (/profile FILE loads
    one), /reset starts over, /quit leaves."""
    from assistant.errors import KubeplanError
    from assistant.schemas import Turn

    assistant = _assistant()
    explicit = read_profile(profile) if profile else None
    history: list[Turn] = []
    current: PlanningProfile | None = explicit
    console.print("kubeplan chat: ask a planning question (/profile, /reset, /quit).")
    while True:
        try:
            line = console.input("[bold cyan]you>[/] ").strip()
        except EOFError:
            break
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line == "/reset":
            history, current = [], explicit
            console.print("conversation and profile reset.")
            continue
        if line.startswith("/profile"):
            arg = line[len("/profile") :].strip()
            if arg:
                try:
                    explicit = read_profile(Path(arg))
                except KubeplanError as exc:
                    console.print(f"[red]{escape(exc.problem)}[/]")
                    continue
                current = explicit
            shown = current.model_dump(exclude_defaults=True) if current else {}
            console.print(escape(json.dumps(shown, indent=2)) if shown else "(profile empty)")
            if explicit is not None and not explicit.is_empty():
                given = json.dumps(explicit.model_dump(exclude_defaults=True))
                console.print("explicit (wins field by field): " + escape(given))
            continue
        if line.startswith("/"):
            console.print("commands: /profile [FILE], /reset, /quit")
            continue
        try:
            answer = assistant.ask(line, history=history, profile=explicit, backend=backend, k=k)
        except KubeplanError as exc:
            console.print(f"[red]error:[/] {escape(exc.problem)}")
            if exc.fix:
                console.print(f"[bold]fix:[/] {escape(exc.fix)}")
            continue
        render_answer(answer, console)
        current = answer.profile
        history += [Turn(role="user", content=line), Turn(role="assistant", content=answer.summary)]


@app.command()
def retrieve(
    query: Annotated[str, typer.Argument(help="Search words or a question.")],
    k: KOpt = None,
    topic: TopicOpt = None,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection (default: settings).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages hybrid search finds (dense + keyword, fused)."""
    sources = _assistant(one_shot=True).retrieve(query, k=k, topic=topic, collection=collection)
    if as_json:
        _json([s.model_dump() for s in sources])
    else:
        render_sources(sources, console)


@app.command()
def schema() -> None:
    """JSON Schema of PlanAnswer, Recommendation, Source and PlanningProfile."""
    from assistant.schemas import PlanAnswer, PlanningProfile, Recommendation, Source

    _json(
        {
            model.__name__: model.model_json_schema()
            for model in (PlanAnswer, Recommendation, Source, PlanningProfile)
        }
    )


@app.command()
def catalogue(
    topic: TopicOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The decision catalogue of the curated corpus."""
    decisions = _assistant().catalogue(topic)
    if as_json:
        _json([d.model_dump() for d in decisions])
        return
    table = Table(title=f"{len(decisions)} decisions", show_lines=False)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("title")
    table.add_column("when")
    for d in decisions:
        table.add_row(d.id, escape(d.title), escape("; ".join(d.when)))
    console.print(table)
