"""The chat page: fact chips, the conversation, asking and re-planning."""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from assistant.chain.answer_stream import (
    CardEvent,
    DoneEvent,
    RetrievedEvent,
    SummaryEvent,
    TokenEvent,
)
from assistant.chain.export import escape_markdown as esc
from assistant.chain.export import plan_markdown
from assistant.chain.plan_diff import diff_plans
from assistant.errors import BackendUnavailableError, KubeplanError
from assistant.schemas import PlanAnswer, PlanningProfile, Source, Turn
from assistant.ui import logic
from assistant.ui.common import Ctx, callback, show_error
from assistant.ui.components import (
    card_body,
    render_answer,
    render_compact,
    render_status,
    render_superseded,
)
from assistant.ui.state import (
    Message,
    answer_message,
    explicit,
    inferred,
    last_answer,
    messages,
    plan_answers,
    retracted,
    state,
    superseded,
    turns,
)
from assistant.understanding.profile import extract_profile

#: Most characters of a long question shown in the conversation (the whole is asked).
SHOWN_QUESTION_CHARS = 600


def produce(
    ctx: Ctx,
    slot: DeltaGenerator,
    question: str,
    history: list[Turn],
    profile: PlanningProfile | None,
    retracted: PlanningProfile | None = None,
) -> tuple[PlanAnswer, list[Source]]:
    """Ask through ``Assistant.ask_stream`` and draw the answer into ``slot`` as it comes:
    the passages found at once, an LLM's text while it writes, then the summary and each
    card as it arrives. The caller draws the whole answer over ``slot`` afterwards.
    Returns the answer and every retrieved passage."""
    slot.caption("Searching the knowledge base…")  # at once: never an empty avatar
    final: list[PlanAnswer] = []
    retrieved: list[Source] = []
    text = ""
    live: DeltaGenerator | None = None
    lead: DeltaGenerator | None = None
    summary = ""
    stream = uuid.uuid4().hex[:8]  # the preview's keys, unique in the run
    for event in ctx.assistant.ask_stream(
        question,
        history=history,
        profile=profile,
        backend=ctx.backend,
        k=ctx.settings.top_k,
        topic=ctx.topic,
        retracted=retracted,
    ):
        if isinstance(event, RetrievedEvent):
            retrieved = list(event.sources)
            entries, _ = logic.merge_sources(retrieved)
            with slot.container():
                st.caption(f"Found {len(entries)} passages; composing the plan…")
                st.markdown("\n".join(f"- {esc(e.label)}" for e in entries[:6]))
        elif isinstance(event, TokenEvent):
            text += event.text
            slot.markdown(esc(text))
        elif isinstance(event, SummaryEvent):
            live = slot.container()
            with live:
                if render_status(ctx, event.status, event.summary):
                    continue
                summary = event.summary
                lead = st.empty()
                lead.markdown(esc(logic.summary_lead(summary, None)))
                if event.cards:
                    st.caption(f"{event.cards} recommendations:")
        elif isinstance(event, CardEvent) and live is not None:
            if event.index == 0 and lead is not None:
                lead.markdown(esc(logic.summary_lead(summary, event.recommendation)))
            with live, st.container(border=True, key=f"live_card_{stream}_{event.index}"):
                card_body(event.recommendation)
        elif isinstance(event, DoneEvent):
            final.append(event.answer)
    if not final:
        raise BackendUnavailableError(
            "The backend ended without an answer.", "try again, or use the grounded backend."
        )
    return final[0], retrieved


def _set_pending(question: str) -> None:
    state().pending = question


def _confirm(name: str) -> None:
    ss = state()
    ss.explicit = logic.confirm_fact(explicit(), inferred(), name)


def _remove(name: str) -> None:
    ss = state()
    ss.explicit = logic.without_fields(explicit(), [name])
    ss.replan = True


def _retract(name: str) -> None:
    """The user says an inferred fact no longer holds: it is sent as retracted from now on
    (until a question states that field again) and the last question is re-planned."""
    ss = state()
    ss.retracted = logic.retract_fact(retracted(), inferred(), name)
    ss.inferred = logic.without_fields(inferred(), [name])
    ss.replan = True


def render_chips(slot: DeltaGenerator) -> None:
    """The facts in use; inferred ones can be confirmed (they become facts you set) or
    removed (they no longer hold); facts you set can be removed."""
    chips = logic.profile_chips(explicit(), inferred())
    last = last_answer()
    ruled_out = logic.ruled_out_chips(last, retracted()) if last is not None else []
    if not chips and not ruled_out:
        return
    with slot.container(horizontal=True, key="chips", gap="small"):
        st.markdown("**Facts in use:**")
        for chip in chips:
            st.badge(esc(chip.text), color="gray" if chip.inferred else "blue")
            if chip.inferred:
                st.button(
                    "",
                    key=f"chip_ok_{chip.field}",
                    icon=":material/check:",
                    help=f"Confirm {chip.label.lower()}: send it with every question",
                    on_click=callback(_confirm),
                    args=(chip.field,),
                    type="tertiary",
                )
                st.button(
                    "",
                    key=f"chip_rm_{chip.field}",
                    icon=":material/close:",
                    help=f"Remove {chip.label.lower()}: it does not hold; re-plan without it",
                    on_click=callback(_retract),
                    args=(chip.field,),
                    type="tertiary",
                )
            else:
                st.button(
                    "",
                    key=f"chip_rm_{chip.field}",
                    icon=":material/close:",
                    help=f"Remove {chip.label.lower()} from the facts you set and re-plan",
                    on_click=callback(_remove),
                    args=(chip.field,),
                    type="tertiary",
                )
        for chip in ruled_out:
            st.badge(esc(chip.text), color="gray", icon=":material/block:")


def ask_new(ctx: Ctx, question: str) -> None:
    items = messages()
    history = turns(items)
    # What the user says now wins over a fact set earlier: those fields are left to the
    # conversation (the engine reads them from this question).
    stated = extract_profile(question)
    sent = logic.explicit_to_send(explicit(), stated)
    gone = logic.retracted_to_send(retracted(), stated)
    state().explicit, state().retracted = sent, gone
    profile = None if sent.is_empty() else sent
    with st.chat_message("user"):
        st.markdown(esc(_shown_question(question)))
    with st.chat_message("assistant"):
        slot = st.empty()
        try:
            answer, retrieved = produce(
                ctx, slot, question, history, profile, None if gone.is_empty() else gone
            )
        except KubeplanError as exc:
            show_error(exc)  # below what arrived before the failure
            return
        previous = last_answer()
        changes: list[str] = []
        diff = None
        if previous is not None and previous.status == "answered":
            changes = logic.profile_changes(answer, previous.profile)
            if changes:
                diff = diff_plans(previous, answer)
        others = logic.other_documents(retrieved, [s.id for s in answer.sources])
        message = answer_message(
            answer, history, profile, diff=diff, changes=changes, others=others
        )
        items += [{"role": "user", "content": question}, message]
        state().inferred = logic.inferred_profile(answer, sent)
        with slot.container():  # the whole answer replaces the streamed preview at once
            render_answer(ctx, message)


def replan(ctx: Ctx) -> None:
    """Re-plan the last question with the facts the user set and record what changed."""
    profile = explicit()
    items = messages()
    last_q = next((i for i in range(len(items) - 1, -1, -1) if items[i]["role"] == "user"), None)
    if last_q is None:
        st.toast("Facts saved; they apply to the next question.")
        return
    previous = last_answer()
    if previous is not None and previous.status == "out_of_scope":
        # Re-asking it with facts would read as planning context: it stays out of scope.
        st.toast("Facts saved; they apply to the next question (the last one is out of scope).")
        return
    history = turns(items[:last_q])
    sent = None if profile.is_empty() else profile
    gone = retracted()
    slot = st.empty()
    try:
        answer, retrieved = produce(
            ctx, slot, items[last_q]["content"], history, sent, None if gone.is_empty() else gone
        )
    except KubeplanError as exc:
        show_error(exc)
        return
    finally:
        slot.empty()  # the re-planned answer is drawn with the conversation below
    diff = diff_plans(previous, answer) if previous else None
    # What this re-plan changed against the answer it replaces (the answer's own report
    # compares the question with the turn before it).
    changes = logic.compared_profiles(previous.profile, answer.profile) if previous else []
    note = logic.replan_note(profile, gone)
    others = logic.other_documents(retrieved, [s.id for s in answer.sources])
    items.append(
        answer_message(answer, history, sent, diff=diff, note=note, changes=changes, others=others)
    )
    state().inferred = logic.inferred_profile(answer, profile)


def _shown_question(question: str) -> str:
    if len(question) <= SHOWN_QUESTION_CHARS:
        return question
    return question[:SHOWN_QUESTION_CHARS].rstrip() + f"… ({len(question):,} characters)"


def _examples() -> None:
    st.caption(
        "Ask about managed or self-managed clusters, sizing, spot nodes, hosting, Windows, "
        "GPU or Arm nodes, edge, registries, secrets, availability, tenancy, networking, "
        "access, GitOps, observability or security. Answers cite the knowledge base."
    )
    st.markdown("**Try one of these:**")
    with st.container(horizontal=True, key="examples"):
        for i, example in enumerate(logic.EXAMPLE_QUESTIONS):
            st.button(
                esc(example),
                key=f"example_{i}",
                on_click=callback(_set_pending),
                args=(example,),
            )


def _asking() -> bool:
    """Whether this run asks a new question (typed, or pending from a button): the chat
    input's value is in the session state before the widget is drawn."""
    ss = state()
    return bool(ss.get("question") or ss.get("pending"))


def _draw_message(ctx: Ctx, items: list[Message], i: int, fold: bool) -> None:
    message = items[i]
    if message["role"] == "user":
        with st.chat_message("user"):
            st.markdown(esc(_shown_question(message["content"])))
    else:
        with st.chat_message("assistant"):
            if superseded(items, i):
                render_superseded(message)
            elif fold:
                render_compact(message)
            else:
                render_answer(ctx, message)


def chat_page(ctx: Ctx) -> None:
    st.header("Plan your Kubernetes platform")
    ss = state()
    if ss.replan:
        ss.replan = False
        replan(ctx)
    # Filled last: the facts are those of the answer given in this run.
    chips_slot = st.container()
    examples_slot = st.empty()
    # Drawn first, in the order of the previous run: the browser replaces each element with
    # its same-looking redraw, so nothing moves while the new answer is composed below.
    items = messages()
    roles = [(m["role"], superseded(items, i)) for i, m in enumerate(items)]
    expanded = [
        i
        for i, m in enumerate(items)
        if m["role"] == "assistant" and ss.get(f"expanded_{m['key']}")
    ]
    # The answer this run adds makes one more whole: fold as if it were already there.
    to_fold = logic.folded(roles + ([("assistant", False)] if _asking() else []), expanded)
    for i in range(len(items)):
        _draw_message(ctx, items, i, i in to_fold)
    limit = logic.max_question_chars(ctx.settings)
    # One character over the limit: a longer paste arrives cut there, and the message below
    # says what the limit is instead of a question silently cut short.
    typed = st.chat_input("Ask a planning question", key="question", max_chars=limit + 1)
    question = typed or ss.pending
    ss.pending = None
    if question:
        problem = logic.question_problem(question, limit)
        if problem:
            st.warning(esc(problem))
        else:
            ask_new(ctx, question.strip())
    render_chips(chips_slot)
    if not messages():
        with examples_slot.container():
            _examples()
    answers = plan_answers()
    if answers:
        st.download_button(
            "Download the plan (Markdown)",
            data=plan_markdown(answers, logic.used_profile(explicit(), inferred())),
            file_name="kubeplan-plan.md",
            mime="text/markdown",
            key="plan_download",
            on_click="ignore",
        )
