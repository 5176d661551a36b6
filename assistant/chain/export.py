"""Exports of a conversation's plan (pure): Markdown for the whole plan, MADR for one decision.

Text in these documents comes from the corpus, the user and models, so every piece of it is
passed through ``_inline``/``_block``: Markdown viewers that render raw HTML then show tags as
text instead of running them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from assistant.schemas import Decision, PlanAnswer, PlanningProfile, Recommendation, Source

#: How each PlanningProfile field is named to a reader (exports and the chat UI).
PROFILE_LABELS: dict[str, str] = {
    "hosting": "Hosting",
    "workloads": "Workloads",
    "team_size": "Platform team size",
    "k8s_experience": "Kubernetes experience",
    "compliance": "Compliance",
    "isolation": "Tenant isolation",
    "availability": "Availability target",
    "budget_sensitivity": "Budget sensitivity",
    "regions": "Regions",
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")
_SNIPPET_CHARS = 300


def escape_markdown(text: str) -> str:
    """``text`` with every Markdown (and Streamlit directive) character backslash-escaped.

    For showing untrusted text through a Markdown renderer as the literal text it is.
    """
    return _MD_SPECIAL.sub(r"\\\1", text)


def citation_numbers(answer: PlanAnswer) -> dict[str, int]:
    """Source id -> its 1-based number in ``answer.sources``."""
    return {source.id: i for i, source in enumerate(answer.sources, start=1)}


def profile_items(profile: PlanningProfile) -> list[tuple[str, str]]:
    """(label, value) for every field of the profile that is set, in a stable order."""
    items: list[tuple[str, str]] = []
    for name, label in PROFILE_LABELS.items():
        value = getattr(profile, name)
        if value is None or value == []:
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        items.append((label, shown))
    return items


def source_location(source: Source) -> str:
    """Where a passage can be read: its upstream URL, else its path."""
    return source.url or source.path


def _inline(text: str) -> str:
    """One line of text that Markdown shows literally enough: no raw HTML, no line breaks."""
    return " ".join(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _shorten(text: str, limit: int = _SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _profile_table(profile: PlanningProfile) -> list[str]:
    items = profile_items(profile)
    if not items:
        return ["No profile facts were given or found in the conversation."]
    return ["| Fact | Value |", "| --- | --- |", *[f"| {k} | {_cell(v)} |" for k, v in items]]


def _source_line(number: int, source: Source) -> str:
    parts = [f"{number}. **{_inline(source.title)}**"]
    if source.section:
        parts.append(f" — {_inline(source.section)}")
    parts.append(f" (`{source.path.replace('`', '')}`)")
    if source.url:
        parts.append(f" <{source.url}>")
    return "".join(parts)


def plan_markdown(
    answers: Sequence[PlanAnswer],
    profile: PlanningProfile | None = None,
    *,
    generated: dt.datetime | None = None,
    title: str = "Kubernetes platform plan",
) -> str:
    """The conversation's plan as one Markdown document.

    Every recommendation (the latest answer wins when a decision came up more than once) with
    its what/why/trade-offs and numbered citations, the planning profile (``profile``, else the
    last non-empty one of the answers), each question with its status and open questions, and
    the cited passages.
    """
    if profile is None:
        # Out-of-scope answers carry an empty profile; the plan is about the last real one.
        profile = next((a.profile for a in reversed(answers) if not a.profile.is_empty()), None)
    numbers: dict[str, int] = {}
    sources: list[Source] = []

    def cite(answer: PlanAnswer, rec: Recommendation) -> str:
        by_id = {s.id: s for s in answer.sources}
        refs = []
        for cid in rec.citations:
            source = by_id.get(cid)
            if source is None:
                continue
            if cid not in numbers:
                numbers[cid] = len(sources) + 1
                sources.append(source)
            refs.append(f"[{numbers[cid]}]")
        return ", ".join(refs) if refs else "none"

    latest: dict[str, tuple[int, PlanAnswer, Recommendation]] = {}
    for qi, answer in enumerate(answers, start=1):
        for rec in answer.recommendations:
            latest.pop(rec.decision_id, None)
            latest[rec.decision_id] = (qi, answer, rec)

    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    backends = sorted({a.backend for a in answers})
    lines = [
        f"# {_inline(title)}",
        "",
        f"Generated by kubeplan on {when} from {len(answers)} question(s)"
        + (f" (backend: {', '.join(backends)})." if backends else "."),
        "",
        "## Planning profile",
        "",
        *_profile_table(profile or PlanningProfile()),
        "",
        "## Recommendations",
        "",
    ]
    if not latest:
        lines += ["No recommendation was made in this conversation.", ""]
    for n, (qi, answer, rec) in enumerate(latest.values(), start=1):
        lines += [
            f"### {n}. {_inline(rec.title)} (`{rec.decision_id}`)",
            "",
            f"- **Confidence:** {rec.confidence}",
            f"- **Asked in:** question {qi}",
            f"- **What to do:** {_inline(rec.recommendation)}",
            f"- **Why:** {_inline(rec.rationale)}",
        ]
        if rec.tradeoffs:
            lines.append("- **Trade-offs:**")
            lines += [f"  - {_inline(t)}" for t in rec.tradeoffs]
        lines += [f"- **Sources:** {cite(answer, rec)}", ""]

    lines += ["## Questions and answers", ""]
    for qi, answer in enumerate(answers, start=1):
        lines += [
            f"### Question {qi}: {_inline(answer.question)}",
            "",
            f"- **Status:** {answer.status.replace('_', ' ')}",
            f"- **Summary:** {_inline(answer.summary)}",
        ]
        if answer.recommendations:
            lines.append("- **Recommended:** " + "; ".join(
                f"{_inline(r.title)} (`{r.decision_id}`)" for r in answer.recommendations
            ))
        if answer.open_questions:
            lines.append("- **Open questions:**")
            lines += [f"  - {_inline(q)}" for q in answer.open_questions]
        lines.append("")

    lines += ["## Sources", ""]
    if not sources:
        lines.append("No passage was cited.")
    for n, source in enumerate(sources, start=1):
        lines += [_source_line(n, source), f"   > {_inline(_shorten(source.snippet))}"]
    return "\n".join(lines).rstrip() + "\n"


def _lower_first(text: str) -> str:
    """``text`` to follow "because": a capital that starts an ordinary word is lowered."""
    word = text.split(" ", 1)[0]
    if word == "A" or (len(word) > 1 and word[0].isupper() and word[1:].islower()):
        return text[0].lower() + text[1:]
    return text


def _good_bad(decision: Decision | None) -> list[str]:
    if decision is None:
        return []
    lines = [f"* Good, because it fits: {_inline(c)}" for c in decision.when]
    lines += [f"* Bad, because {_inline(t)}" for t in decision.tradeoffs]
    lines += [f"* Bad, because it does not fit: {_inline(c)}" for c in decision.avoid_when]
    return lines


def decision_madr(
    rec: Recommendation,
    answer: PlanAnswer,
    decisions: Mapping[str, Decision],
    *,
    date: dt.date | None = None,
) -> str:
    """One recommended decision as a MADR (Markdown Architectural Decision Record) document.

    ``decisions`` is the catalogue by id; it supplies the decision's conditions and its
    alternatives, which become the other considered options.
    """
    decision = decisions.get(rec.decision_id)
    alt_ids = decision.alternatives if decision else []
    alternatives = [decisions[a] for a in alt_ids if a in decisions]
    by_id = {s.id: s for s in answer.sources}
    cited = [by_id[c] for c in rec.citations if c in by_id]
    day = (date or dt.datetime.now(dt.UTC).date()).isoformat()

    lines = [
        "---",
        "status: proposed",
        f"date: {day}",
        "decision-makers: (fill in)",
        "---",
        "",
        f"# {_inline(rec.title)}",
        "",
        "## Context and Problem Statement",
        "",
        f"The platform team asked: \"{_inline(answer.question)}\"",
        "",
        _inline(answer.summary),
        "",
    ]
    facts = profile_items(answer.profile)
    if facts:
        shown = "; ".join(f"{k}: {_inline(v)}" for k, v in facts)
        lines += [f"Planning profile: {shown}.", ""]

    lines += ["## Decision Drivers", ""]
    drivers = [f"* {_inline(c)}" for c in (decision.when if decision else [])]
    drivers += [f"* {k}: {_inline(v)}" for k, v in facts]
    lines += (drivers or ["* (fill in)"]) + [""]

    lines += ["## Considered Options", "", f"* {_inline(rec.title)} (`{rec.decision_id}`)"]
    lines += [f"* {_inline(a.title)} (`{a.id}`)" for a in alternatives]
    lines += [
        "",
        "## Decision Outcome",
        "",
        f"Chosen option: \"{_inline(rec.title)}\", because {_lower_first(_inline(rec.rationale))}",
        "",
        _inline(rec.recommendation),
        "",
        f"Confidence of the evidence: {rec.confidence}.",
        "",
        "### Consequences",
        "",
    ]
    fits = decision.when if decision else []
    consequences = [f"* Good, because it fits: {_inline(c)}" for c in fits]
    consequences += [f"* Bad, because {_inline(t)}" for t in rec.tradeoffs]
    lines += (consequences or ["* (fill in)"]) + [""]

    lines += ["## Pros and Cons of the Options", "", f"### {_inline(rec.title)}", ""]
    lines += [_inline(rec.recommendation), "", *(_good_bad(decision) or ["* (fill in)"]), ""]
    for alt in alternatives:
        lines += [f"### {_inline(alt.title)}", "", _inline(alt.recommendation), ""]
        lines += [*_good_bad(alt), ""]

    lines += ["## More Information", ""]
    if cited:
        lines += ["Passages kubeplan cited for this decision:", ""]
        lines += [_source_line(n, s) for n, s in enumerate(cited, start=1)]
        lines.append("")
    if decision and decision.sources:
        lines += ["Further reading:", "", *[f"* <{url}>" for url in decision.sources], ""]
    lines.append(
        f"Drafted by kubeplan (decision `{rec.decision_id}`, backend {_inline(answer.backend)}); "
        "review it before accepting."
    )
    return "\n".join(lines).rstrip() + "\n"
