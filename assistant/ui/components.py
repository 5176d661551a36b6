"""How an answer is drawn: summary, comparison, cards by topic, open questions, sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import streamlit as st

from assistant.chain.export import decision_madr, plan_markdown
from assistant.chain.export import escape_markdown as esc
from assistant.chain.feedback import FeedbackStore
from assistant.chain.plan_diff import PlanDiff
from assistant.errors import KubeplanError
from assistant.schemas import Recommendation, Source
from assistant.ui import logic
from assistant.ui.common import Ctx, callback, catalogue, covered_topics, safe_url
from assistant.ui.state import Message, explicit, state
from assistant.understanding.profile import VOCABULARY, open_question

BadgeColour = Literal["green", "orange", "gray"]
CONFIDENCE_COLOUR: dict[str, BadgeColour] = {"high": "green", "medium": "orange", "low": "gray"}


def _dimension_questions() -> dict[str, str]:
    questions = {}
    for dimension in sorted(set(VOCABULARY.values())):
        try:
            questions[dimension] = open_question(dimension)
        except KeyError:
            continue
    return questions


def render_changes(message: Message) -> None:
    diff: PlanDiff | None = message["diff"]
    changes: list[str] = message["changes"]
    if not changes and diff is None:
        return
    lines = ["**What changed**"]
    lines += [f"- {esc(c)}" for c in changes]
    if diff is not None:
        lines += [f"- Added: {esc(r.title)} ({esc(r.decision_id)})" for r in diff.added]
        lines += [f"- Removed: {esc(r.title)} ({esc(r.decision_id)})" for r in diff.removed]
        lines += [
            f"- Different: {esc(c.title)} ({esc(', '.join(c.fields))})" for c in diff.changed
        ]
        if diff.status_before != diff.status_after:
            lines.append(f"- Status: {diff.status_before} → {diff.status_after}")
        if diff.is_empty:
            lines.append("- The recommendations stayed the same.")
    st.markdown("\n".join(lines))


def _citation_links(numbers: list[int], entries: Sequence[logic.MergedSource]) -> str:
    by_number = {e.number: e for e in entries}
    links = []
    for n in numbers:
        entry = by_number[n]
        if entry.url:
            links.append(f"[\\[{n}\\]]({safe_url(entry.url)})")
        else:
            links.append(f"\\[{n}\\]")
    return " ".join(links)


def render_card(
    ctx: Ctx,
    message: Message,
    i: int,
    rec: Recommendation,
    entries: Sequence[logic.MergedSource],
    numbers: dict[str, int],
) -> None:
    with st.container(border=True, key=f"card_{message['key']}_{i}"):
        card_body(rec)
        refs = _citation_links(logic.cited_numbers(rec, numbers), entries)
        st.markdown("**Citations:** " + (refs or "none"))
        st.download_button(
            "Decision record (MADR)",
            data=decision_madr(rec, message["answer"], catalogue(ctx)),
            file_name=f"adr-{rec.decision_id.replace('.', '-')}.md",
            mime="text/markdown",
            key=f"madr_{message['key']}_{i}",
            on_click="ignore",
        )


def card_body(rec: Recommendation) -> None:
    """A card's title, confidence, id, what to do, why and trade-offs (no widgets, so the
    streamed preview and the final card draw the same)."""
    head, badge = st.columns([0.78, 0.22])
    head.markdown(f"##### {esc(rec.title)}")
    badge.badge(f"{rec.confidence} confidence", color=CONFIDENCE_COLOUR[rec.confidence])
    st.caption(esc(rec.decision_id))
    st.markdown("**What to do:** " + esc(rec.recommendation))
    st.markdown("**Why:** " + esc(logic.whole_sentences(rec.rationale)))
    if rec.tradeoffs:
        st.markdown("**Trade-offs:**\n" + "\n".join(f"- {esc(t)}" for t in rec.tradeoffs))


def render_status(ctx: Ctx, status: str, summary: str) -> bool:
    """The head of an answer that is not answered (out of scope, not enough evidence);
    False when the answer is answered and its summary is drawn by the caller."""
    if status == "out_of_scope":
        st.warning("**Out of scope.** " + esc(summary))
    elif status == "insufficient_evidence":
        st.info("**Not enough evidence.** " + esc(summary))
    else:
        return False
    st.markdown("The knowledge base covers: " + esc(", ".join(covered_topics(ctx))) + ".")
    return True


def render_sources(entries: Sequence[logic.MergedSource], key: str) -> None:
    st.markdown("**Sources**")
    for entry in entries:
        source_expander(entry.label, entry.url, entry.path, entry.text, f"src_{key}_{entry.number}")


def source_expander(label: str, url: str | None, path: str, text: str, key: str) -> None:
    """A numbered passage: title and section as the label; link, path and text inside."""
    with st.expander(esc(label), key=key):
        if url:
            st.markdown(f"[{esc(url)}]({safe_url(url)})")
        st.caption(esc(path))
        st.text(text)


def render_others(others: Sequence[Source], key: str, start: int) -> None:
    if not others:
        return
    st.markdown(
        "**From your documents** (passages the search found in documents outside the "
        "decision catalogue, e.g. your uploads)"
    )
    for n, source in enumerate(others, start=start):
        label = f"[{n}] {source.title}" + (f" — {source.section}" if source.section else "")
        if source.flags:
            # Said before the title: the passage reads like orders to an assistant.
            label = f"⚠ {', '.join(source.flags)}: {label}"
        source_expander(label, source.url, source.path, source.snippet, f"doc_{key}_{n}")


def _start_answering(key: str, i: int) -> None:
    state().answering = (key, i)


def _submit_choice(name: str, widget: str) -> None:
    ss = state()
    ss.explicit = logic.answer_open_question(explicit(), name, ss.get(widget))
    ss.answering = None
    ss.replan = True


def _submit_text(question: str, widget: str) -> None:
    ss = state()
    reply = str(ss.get(widget) or "").strip()
    if reply:
        ss.pending = logic.open_question_statement(question, reply)
        ss.answering = None


def render_open_questions(message: Message) -> None:
    answer = message["answer"]
    if not answer.open_questions:
        return
    st.markdown("**Open questions for you** (answer one to refine the plan)")
    answering = state().get("answering")
    questions = _dimension_questions()
    for i, question in enumerate(answer.open_questions):
        key = f"oq_{message['key']}_{i}"
        if answering != (message["key"], i):
            st.button(
                esc(question),  # widget labels are Markdown
                key=key,
                on_click=callback(_start_answering),
                args=(message["key"], i),
                type="tertiary",
                icon=":material/edit_note:",
            )
            continue
        form = logic.open_question_form(question, questions)
        with st.form(f"oqf_{message['key']}_{i}"):
            st.markdown(esc(question))
            widget = f"oqa_{message['key']}_{i}"
            if form.field == "team_size":
                st.number_input("Engineers", 1, 10_000, 3, key=widget)
            elif form.is_choice and form.multiple:
                st.multiselect("Your answer", form.options, key=widget)
            elif form.is_choice:
                st.radio("Your answer", form.options, key=widget, horizontal=True)
            else:
                st.text_input("Your answer", key=widget, max_chars=300)
            if form.field is not None:
                st.form_submit_button(
                    "Use this answer and re-plan",
                    on_click=callback(_submit_choice),
                    args=(form.field, widget),
                )
            else:
                st.form_submit_button(
                    "Send this answer",
                    on_click=callback(_submit_text),
                    args=(question, widget),
                )


def render_feedback(ctx: Ctx, message: Message) -> None:
    key = message["key"]

    def save() -> None:
        ss = state()
        value = ss.get(f"fb_{key}")
        if value is None:
            return
        try:
            FeedbackStore.for_settings(ctx.settings).record(
                key,
                "up" if value == 1 else "down",
                message["answer"],
                history=message["history"],
                profile=message["profile"],
                comment=ss.get(f"fbc_{key}") or "",
            )
            ss[f"fb_saved_{key}"] = True
        except KubeplanError as exc:
            ss[f"fb_error_{key}"] = exc.problem

    def save_comment() -> None:
        ss = state()
        try:
            FeedbackStore.for_settings(ctx.settings).set_comment(key, ss.get(f"fbc_{key}") or "")
        except KubeplanError as exc:
            ss[f"fb_error_{key}"] = exc.problem

    left, right = st.columns([0.25, 0.75])
    with left:
        st.feedback("thumbs", key=f"fb_{key}", on_change=callback(save))
    with right:
        st.text_input(
            "Comment (optional)",
            key=f"fbc_{key}",
            on_change=callback(save_comment),
            label_visibility="collapsed",
            placeholder="Comment on this answer (optional)",
        )
    error = state().get(f"fb_error_{key}")
    if error:
        st.error("Feedback not saved: " + esc(error))
    elif state().get(f"fb_saved_{key}"):
        st.caption("Feedback saved. Thank you.")


def render_answer(ctx: Ctx, message: Message) -> None:
    answer = message["answer"]
    if message["note"]:
        st.caption(esc(message["note"]))
    render_changes(message)
    if not render_status(ctx, answer.status, answer.summary):
        st.markdown(esc(logic.summary_text(answer)))
    entries, numbers = logic.merge_sources(answer.sources)
    rows = logic.comparison_rows(answer.question, answer.recommendations, catalogue(ctx))
    if rows:
        st.markdown("**Side by side**")
        st.dataframe(rows, hide_index=True, key=f"cmp_{message['key']}")
    groups = logic.group_by_topic(answer.recommendations)
    for topic, indexes in groups:
        if len(groups) > 1:
            st.markdown(f"**{esc(topic.capitalize())}**")
        for i in indexes:
            render_card(ctx, message, i, answer.recommendations[i], entries, numbers)
    render_open_questions(message)
    render_others(message["others"], message["key"], len(entries) + 1)
    if entries:
        render_sources(entries, message["key"])
    if answer.recommendations:
        with st.expander("Copy this answer as Markdown", key=f"md_{message['key']}"):
            st.code(plan_markdown([answer], answer.profile), language="markdown")
    render_feedback(ctx, message)


def render_superseded(message: Message) -> None:
    """A re-planned answer: kept for reference, marked, without its widgets."""
    answer = message["answer"]
    with st.container(border=True, key=f"old_{message['key']}"):
        st.caption("Superseded by the re-plan below.")
        st.markdown(esc(logic.summary_text(answer)))
        titles = [r.title for r in answer.recommendations]
        if titles:
            st.markdown("Earlier recommendations: " + esc("; ".join(titles)))


def _expand(key: str) -> None:
    state()[f"expanded_{key}"] = True


def render_compact(message: Message) -> None:
    """An earlier answer, folded: its summary and card titles, and a button that draws it
    whole. Every rerun redraws the conversation in the browser, so a long chat keeps only
    its latest answers whole (see ``logic.FULL_ANSWERS``)."""
    answer = message["answer"]
    with st.container(border=True, key=f"folded_{message['key']}"):
        if answer.status == "answered":
            st.markdown(esc(logic.summary_text(answer)))
        else:
            st.markdown(esc(answer.summary))
        titles = [r.title for r in answer.recommendations]
        if titles:
            st.markdown("Recommendations: " + esc("; ".join(titles)))
        st.button(
            "Show the whole answer",
            key=f"expand_{message['key']}",
            on_click=callback(_expand),
            args=(message["key"],),
            type="tertiary",
            icon=":material/unfold_more:",
        )
