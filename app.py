"""kubeplan's chat UI: ``streamlit run app.py`` (``make app`` ingests the bundled corpus first).

Wiring and rendering only; every decision is made by ``assistant``. Text from the corpus,
uploaded files, users and models goes through ``esc`` (Markdown-escaped) or ``st.text``/
``st.code``/``st.dataframe``: nothing here uses ``unsafe_allow_html``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import streamlit as st

from assistant import Assistant, KubeplanError, PlanAnswer, PlanningProfile, Turn
from assistant.config import Settings, load_settings
from assistant.errors import BackendUnavailableError, InputError
from assistant.export import (
    citation_numbers,
    decision_madr,
    plan_markdown,
    profile_items,
)
from assistant.export import escape_markdown as esc
from assistant.feedback import FeedbackStore, draft_eval_case_yaml
from assistant.ingest import IngestProgress, check_ingest_folder
from assistant.plan_diff import PlanDiff, diff_plans
from assistant.schemas import TOPICS, Decision, IngestReport, Recommendation, Source

log = logging.getLogger("kubeplan.app")

PAGES = ("Chat", "Knowledge base", "Feedback")
BACKENDS = ("grounded", "llm")
ALL_TOPICS = "all topics"
UNSET = "not set"
LEVELS = (UNSET, "low", "medium", "high")
HOSTING = ("aws", "azure", "gcp", "cloud", "on-prem", "edge", "hybrid", "hosting-provider")
WORKLOADS = ("stateless", "stateful", "batch", "gpu", "windows", "arm", "ml", "web")
BadgeColour = Literal["green", "orange", "gray"]
CONFIDENCE_COLOUR: dict[str, BadgeColour] = {"high": "green", "medium": "orange", "low": "gray"}
# Which variable an LLM provider needs, so the sidebar can say why the backend is missing.
PROVIDER_KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google_genai": "GOOGLE_API_KEY",
    "mistralai": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
}


# --------------------------------------------------------------------------- state


# Messages are plain dicts: streamlit re-executes this file on every rerun, so a class defined
# here would be a new class each time and objects kept in session state would fail isinstance.
# {"role": "user", "content": str} or
# {"role": "assistant", "answer": PlanAnswer, "key": str, "history": list[Turn],
#  "profile": PlanningProfile | None (as sent), "diff": PlanDiff | None, "note": str}
Message = dict[str, Any]


def _answer_message(
    answer: PlanAnswer,
    history: list[Turn],
    profile: PlanningProfile | None,
    diff: PlanDiff | None = None,
    note: str = "",
) -> Message:
    return {
        "role": "assistant",
        "answer": answer,
        "key": uuid.uuid4().hex[:12],
        "history": history,
        "profile": profile,
        "diff": diff,
        "note": note,
    }


def _state() -> Any:
    ss = st.session_state
    ss.setdefault("messages", [])
    ss.setdefault("profile", PlanningProfile())
    ss.setdefault("pending", None)
    ss.setdefault("replan", None)
    return ss


def _messages() -> list[Message]:
    messages: list[Message] = _state().messages
    return messages


def _superseded(messages: Sequence[Message], i: int) -> bool:
    """Whether a re-plan (the answer right after it) replaced answer ``i``."""
    return (
        messages[i]["role"] == "assistant"
        and i + 1 < len(messages)
        and messages[i + 1]["role"] == "assistant"
    )


def _turns(messages: Sequence[Message]) -> list[Turn]:
    turns = []
    for i, m in enumerate(messages):
        if _superseded(messages, i):
            continue
        if m["role"] == "user":
            turns.append(Turn(role="user", content=m["content"]))
        else:
            turns.append(Turn(role="assistant", content=m["answer"].summary))
    return turns


def _plan_answers() -> list[PlanAnswer]:
    """The answers that make up the plan: every question's latest answer."""
    messages = _messages()
    return [
        m["answer"]
        for i, m in enumerate(messages)
        if m["role"] == "assistant" and not _superseded(messages, i)
    ]


# --------------------------------------------------------------------------- wiring


@st.cache_resource(show_spinner=False, max_entries=8)
def _assistant(key: str, _settings: Settings) -> Assistant:
    """One Assistant (embedder, store, indexes) per distinct settings, shared by sessions."""
    return Assistant(_settings)


@dataclass
class Ctx:
    settings: Settings
    assistant: Assistant
    backend: str
    topic: str | None


def _llm_problem(settings: Settings) -> str | None:
    """Why the llm backend cannot be offered, or None when it can."""
    if not settings.llm_model:
        return (
            "set KUBEPLAN_LLM_MODEL to provider:model (e.g. openai:gpt-4o-mini, "
            "ollama:llama3.1) to use an LLM."
        )
    provider = settings.llm_model.split(":", 1)[0]
    env = PROVIDER_KEYS.get(provider)
    if env and not os.environ.get(env):
        return f"{settings.llm_model} needs {env} in the environment."
    return None


def _guarded(render: Callable[[], None]) -> None:
    """Show errors as a message with the fix; never a stack trace in the page."""
    try:
        render()
    except KubeplanError as exc:
        _show_error(exc)
    except Exception as exc:
        log.exception("kubeplan UI error")
        st.error(
            f"Something went wrong ({type(exc).__name__}). The details are in the server log; "
            "please report them."
        )


def _callback(fn: Callable[..., None]) -> Callable[..., None]:
    """A widget callback whose failure becomes a message on the next run, not a trace."""

    @functools.wraps(fn)
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except KubeplanError as exc:
            _state().callback_error = exc.problem + (f" Fix: {exc.fix}" if exc.fix else "")
        except Exception as exc:
            log.exception("kubeplan UI callback error")
            _state().callback_error = f"Something went wrong ({type(exc).__name__})."

    return run


def _show_error(exc: KubeplanError) -> None:
    st.error(esc(exc.problem))
    if exc.fix:
        st.info("Fix: " + esc(exc.fix))


def _catalogue(ctx: Ctx) -> dict[str, Decision]:
    try:
        return {d.id: d for d in ctx.assistant.catalogue()}
    except KubeplanError:
        return {}


def _covered_topics(ctx: Ctx) -> list[str]:
    topics = sorted({d.topic for d in _catalogue(ctx).values()})
    return topics or list(TOPICS)


# --------------------------------------------------------------------------- sidebar


def _sidebar(base: Settings) -> Ctx:
    sb = st.sidebar
    sb.title("kubeplan")
    sb.radio("Page", PAGES, key="page")
    sb.subheader("Answers")
    llm_problem = _llm_problem(base)
    backends = [b for b in BACKENDS if b != "llm" or llm_problem is None]
    default = base.backend if base.backend in backends else "grounded"
    backend = sb.radio("Backend", backends, index=backends.index(default), key="backend")
    if llm_problem:
        sb.caption("llm backend unavailable: " + esc(llm_problem))
    elif backend == "llm":
        sb.caption("Model: " + esc(base.llm_model or ""))
    top_k = sb.slider("Passages retrieved (top-k)", 1, 50, base.top_k, key="top_k")
    topic = sb.selectbox("Topic filter", (ALL_TOPICS, *TOPICS), key="topic")
    collection = sb.text_input("Collection", base.collection, key="collection").strip()
    # One Assistant per collection; top-k and topic travel with each question.
    shared = base.model_copy(update={"collection": collection or base.collection})
    assistant = _assistant(shared.model_dump_json(), shared)
    settings = shared.model_copy(update={"top_k": top_k})
    try:
        known = assistant.store.collections()
    except KubeplanError as exc:
        sb.caption("Store unavailable: " + esc(exc.problem))
    else:
        sb.caption("Collections in the store: " + (esc(", ".join(known)) or "none yet"))
    return Ctx(settings, assistant, str(backend), None if topic == ALL_TOPICS else str(topic))


_PF = {
    "hosting": "pf_hosting",
    "workloads": "pf_workloads",
    "team_size": "pf_team_size",
    "k8s_experience": "pf_experience",
    "compliance": "pf_compliance",
    "isolation": "pf_isolation",
    "availability": "pf_availability",
    "budget_sensitivity": "pf_budget",
    "regions": "pf_regions",
}


def _sync_profile_widgets(profile: PlanningProfile) -> None:
    """Fill the form from the conversation's profile, only when that profile changed, so a
    rerun does not throw away what the user is typing."""
    ss = _state()
    stamp = profile.model_dump_json()
    if ss.get("pf_synced") == stamp:
        return
    ss.pf_synced = stamp
    ss[_PF["hosting"]] = list(profile.hosting)
    ss[_PF["workloads"]] = list(profile.workloads)
    ss[_PF["team_size"]] = profile.team_size or 0
    ss[_PF["k8s_experience"]] = profile.k8s_experience or UNSET
    ss[_PF["compliance"]] = ", ".join(profile.compliance)
    ss[_PF["isolation"]] = profile.isolation or UNSET
    ss[_PF["availability"]] = profile.availability or UNSET
    ss[_PF["budget_sensitivity"]] = profile.budget_sensitivity or UNSET
    ss[_PF["regions"]] = ", ".join(profile.regions)


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def _profile_from_widgets() -> PlanningProfile:
    ss = _state()

    def level(name: str) -> str | None:
        value = ss.get(_PF[name], UNSET)
        return None if value == UNSET else str(value)

    data: dict[str, Any] = {
        "hosting": ss.get(_PF["hosting"], []),
        "workloads": ss.get(_PF["workloads"], []),
        "team_size": int(ss.get(_PF["team_size"], 0) or 0) or None,
        "k8s_experience": level("k8s_experience"),
        "compliance": [c.lower() for c in _split(ss.get(_PF["compliance"], ""))],
        "isolation": level("isolation"),
        "availability": level("availability"),
        "budget_sensitivity": level("budget_sensitivity"),
        "regions": _split(ss.get(_PF["regions"], "")),
    }
    return PlanningProfile.model_validate(data)


def _on_profile_submit() -> None:
    _state().replan = _profile_from_widgets()


def _profile_form() -> None:
    _sync_profile_widgets(_state().profile)
    sb = st.sidebar
    sb.subheader("Planning profile")
    sb.caption("Filled from the conversation. Edit it and re-plan the last question.")
    with sb.form("profile_form"):
        st.multiselect("Hosting", HOSTING, key=_PF["hosting"])
        st.multiselect("Workloads", WORKLOADS, key=_PF["workloads"])
        st.number_input("Platform team size (0: unknown)", 0, 10_000, key=_PF["team_size"])
        st.selectbox("Kubernetes experience", LEVELS, key=_PF["k8s_experience"])
        st.text_input("Compliance (comma-separated)", key=_PF["compliance"])
        st.selectbox("Tenant isolation", LEVELS, key=_PF["isolation"])
        st.selectbox("Availability target", LEVELS, key=_PF["availability"])
        st.selectbox("Budget sensitivity", LEVELS, key=_PF["budget_sensitivity"])
        st.text_input("Regions or sites (comma-separated)", key=_PF["regions"])
        st.form_submit_button("Re-plan with this profile", on_click=_callback(_on_profile_submit))


# --------------------------------------------------------------------------- answering


def _produce(ctx: Ctx, question: str, history: list[Turn], profile: PlanningProfile | None) -> (
    PlanAnswer
):
    """Ask the assistant; LLM backends stream their text while the answer is produced."""
    k, topic = ctx.settings.top_k, ctx.topic
    if ctx.backend != "llm":
        with st.spinner("Planning…"):
            return ctx.assistant.ask(
                question, history=history, profile=profile, backend=ctx.backend, k=k, topic=topic
            )
    final: list[PlanAnswer] = []

    def tokens() -> Iterator[str]:
        for event in ctx.assistant.stream(
            question, history=history, profile=profile, backend=ctx.backend, k=k, topic=topic
        ):
            if event.kind == "token":
                yield esc(event.text)
            elif event.kind == "answer" and event.answer is not None:
                final.append(event.answer)
            elif event.kind == "error":
                raise BackendUnavailableError(event.text or "The LLM backend failed.")

    slot = st.empty()
    with slot.container():
        st.write_stream(tokens())
    slot.empty()
    if not final:
        raise BackendUnavailableError(
            "The LLM backend ended without an answer.", "try again, or use the grounded backend."
        )
    return final[0]


def _ask_new(ctx: Ctx, question: str) -> None:
    messages = _messages()
    history = _turns(messages)
    with st.chat_message("user"):
        st.markdown(esc(question))
    with st.chat_message("assistant"):
        profile = None if _state().profile.is_empty() else _state().profile
        try:
            answer = _produce(ctx, question, history, profile)
        except KubeplanError as exc:
            _show_error(exc)
            return
        message = _answer_message(answer, history, profile)
        messages += [{"role": "user", "content": question}, message]
        _state().profile = answer.profile
        _render_answer(ctx, message)


def _replan(ctx: Ctx, profile: PlanningProfile) -> None:
    """Re-plan the last question with an edited profile and record what changed."""
    _state().profile = profile
    messages = _messages()
    last_q = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"), None
    )
    if last_q is None:
        st.toast("Profile saved; it applies to the next question.")
        return
    previous = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    history = _turns(messages[:last_q])
    try:
        answer = _produce(ctx, messages[last_q]["content"], history, profile)
    except KubeplanError as exc:
        _show_error(exc)
        return
    diff = diff_plans(previous["answer"], answer) if previous else None
    note = "Re-planned with the edited profile: " + _profile_text(profile)
    messages.append(_answer_message(answer, history, profile, diff, note))
    _state().profile = answer.profile


def _profile_text(profile: PlanningProfile) -> str:
    items = profile_items(profile)
    return "; ".join(f"{k}: {v}" for k, v in items) if items else "no facts"


# --------------------------------------------------------------------------- rendering


def _set_pending(question: str) -> None:
    _state().pending = question


def _render_diff(diff: PlanDiff) -> None:
    if diff.is_empty:
        st.info("The edited profile did not change the recommendations.")
        return
    lines = ["**What changed**"]
    lines += [f"- Added: {esc(r.title)} ({esc(r.decision_id)})" for r in diff.added]
    lines += [f"- Removed: {esc(r.title)} ({esc(r.decision_id)})" for r in diff.removed]
    lines += [
        f"- Different: {esc(c.title)} ({esc(', '.join(c.fields))})" for c in diff.changed
    ]
    if diff.status_before != diff.status_after:
        lines.append(f"- Status: {diff.status_before} → {diff.status_after}")
    st.markdown("\n".join(lines))


def _render_card(ctx: Ctx, message: Message, i: int, rec: Recommendation) -> None:
    numbers = citation_numbers(message["answer"])
    with st.container(border=True, key=f"card_{message['key']}_{i}"):
        head, badge = st.columns([0.78, 0.22])
        head.markdown(f"##### {esc(rec.title)}")
        badge.badge(f"{rec.confidence} confidence", color=CONFIDENCE_COLOUR[rec.confidence])
        st.caption(esc(rec.decision_id))
        st.markdown("**What to do:** " + esc(rec.recommendation))
        st.markdown("**Why:** " + esc(rec.rationale))
        if rec.tradeoffs:
            st.markdown("**Trade-offs:**\n" + "\n".join(f"- {esc(t)}" for t in rec.tradeoffs))
        refs = " ".join(f"\\[{numbers[c]}\\]" for c in rec.citations if c in numbers)
        st.markdown("**Citations:** " + (refs or "none"))
        st.download_button(
            "Decision record (MADR)",
            data=decision_madr(rec, message["answer"], _catalogue(ctx)),
            file_name=f"adr-{rec.decision_id.replace('.', '-')}.md",
            mime="text/markdown",
            key=f"madr_{message['key']}_{i}",
            on_click="ignore",
        )


def _render_sources(sources: Sequence[Source], message: Message) -> None:
    st.markdown("**Sources**")
    for n, source in enumerate(sources, start=1):
        _source_expander(n, source, f"src_{message['key']}_{n}")


def _source_expander(n: int, source: Source, key: str, suffix: str = "") -> None:
    """A numbered passage: title and section as the label; link, path and snippet inside."""
    label = f"[{n}] {source.title}" + (f" — {source.section}" if source.section else "")
    if source.flags:
        # Said before the title: the passage reads like orders to an assistant.
        label = f"⚠ {', '.join(source.flags)}: {label}"
    with st.expander(esc(label + suffix), key=key):
        if source.url:
            st.markdown(f"[{esc(source.url)}]({_safe_url(source.url)})")
        st.caption(esc(source.path))
        st.text(source.snippet)


def _safe_url(url: str) -> str:
    """A link target that only ever points at a web page."""
    if not url.startswith(("https://", "http://")):
        return "#"
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def _render_feedback(ctx: Ctx, message: Message) -> None:
    key = message["key"]

    def save() -> None:
        ss = _state()
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
        ss = _state()
        try:
            FeedbackStore.for_settings(ctx.settings).set_comment(key, ss.get(f"fbc_{key}") or "")
        except KubeplanError as exc:
            ss[f"fb_error_{key}"] = exc.problem

    left, right = st.columns([0.25, 0.75])
    with left:
        st.feedback("thumbs", key=f"fb_{key}", on_change=_callback(save))
    with right:
        st.text_input(
            "Comment (optional)",
            key=f"fbc_{key}",
            on_change=_callback(save_comment),
            label_visibility="collapsed",
            placeholder="Comment on this answer (optional)",
        )
    error = _state().get(f"fb_error_{key}")
    if error:
        st.error("Feedback not saved: " + esc(error))
    elif _state().get(f"fb_saved_{key}"):
        st.caption("Feedback saved. Thank you.")


def _render_answer(ctx: Ctx, message: Message) -> None:
    answer = message["answer"]
    if message["note"]:
        st.caption(esc(message["note"]))
    if message["diff"] is not None:
        _render_diff(message["diff"])
    if answer.status == "out_of_scope":
        st.warning("**Out of scope.** " + esc(answer.summary))
        st.markdown("The knowledge base covers: " + esc(", ".join(_covered_topics(ctx))) + ".")
    elif answer.status == "insufficient_evidence":
        st.info("**Not enough evidence.** " + esc(answer.summary))
        st.markdown("The knowledge base covers: " + esc(", ".join(_covered_topics(ctx))) + ".")
    else:
        st.markdown(esc(answer.summary))
    for i, rec in enumerate(answer.recommendations):
        _render_card(ctx, message, i, rec)
    if answer.open_questions:
        st.markdown("**Open questions** (click one to ask it)")
        for i, question in enumerate(answer.open_questions):
            st.button(
                esc(question),  # widget labels are Markdown
                key=f"oq_{message['key']}_{i}",
                on_click=_callback(_set_pending),
                args=(question,),
                type="tertiary",
                icon=":material/subdirectory_arrow_right:",
            )
    if answer.sources:
        _render_sources(answer.sources, message)
    _render_feedback(ctx, message)


def _chat_page(ctx: Ctx) -> None:
    st.header("Plan your Kubernetes platform")
    ss = _state()
    if ss.replan is not None:
        profile, ss.replan = ss.replan, None
        _replan(ctx, profile)
    messages = _messages()
    if not messages:
        st.caption(
            "Ask about managed or self-managed clusters, sizing, spot nodes, hosting, Windows, "
            "GPU or Arm nodes, edge, registries, secrets, availability, tenancy, networking, "
            "access, GitOps, observability or security. Answers cite the knowledge base."
        )
    for message in messages:
        if message["role"] == "user":
            with st.chat_message("user"):
                st.markdown(esc(message["content"]))
        else:
            with st.chat_message("assistant"):
                _render_answer(ctx, message)
    # One character over the limit: a longer paste arrives cut there, and the assistant's
    # InputError says what the limit is instead of a question silently cut short.
    typed = st.chat_input(
        "Ask a planning question", key="question", max_chars=ctx.settings.max_question_chars + 1
    )
    question = typed or ss.pending
    ss.pending = None
    if question and question.strip():
        _ask_new(ctx, question.strip())
    answers = _plan_answers()
    if answers:
        st.download_button(
            "Download the plan (Markdown)",
            data=plan_markdown(answers, ss.profile),
            file_name="kubeplan-plan.md",
            mime="text/markdown",
            key="plan_download",
            on_click="ignore",
        )


# --------------------------------------------------------------------------- knowledge base


def _kb_page(ctx: Ctx) -> None:
    st.header("Knowledge base")
    collection = ctx.settings.collection
    st.subheader(f"Collection {esc(collection)}")
    try:
        stats = ctx.assistant.stats(collection)
    except KubeplanError as exc:
        _show_error(exc)
    else:
        cols = st.columns(3)
        cols[0].metric("Documents", stats.sources)
        cols[1].metric("Chunks", stats.chunks)
        cols[2].metric("Topics", len(stats.topics))
        last = stats.last_ingest.strftime("%Y-%m-%d %H:%M %Z") if stats.last_ingest else "never"
        # No server path here: whoever opens the page learns nothing about the host.
        st.caption(f"Last ingest: {esc(last.strip())}.")
        if stats.topics:
            st.dataframe(
                [{"topic": t, "chunks": n} for t, n in sorted(stats.topics.items())],
                hide_index=True,
            )
    # One broken part (e.g. an invalid corpus document) must not hide the others.
    for section in (_search_section, _catalogue_section, _ingest_section):
        _guarded(functools.partial(section, ctx))


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
        _source_expander(n, source, f"hit_{n}", f" (score {source.score:.3f})")


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
                + "\n".join(f"- [{esc(u)}]({_safe_url(u)})" for u in decision.sources)
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
        f"Documents go into collection {esc(settings.collection)}."
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
            _show_error(InputError("No folder given.", "type the path of a folder on the server."))
            return
        # Only folders under KUBEPLAN_INGEST_ROOTS: the page must not read /etc or $HOME.
        _run_ingest(ctx, [check_ingest_folder(folder.strip(), settings)])
    elif go_upload and uploads:
        target = settings.upload_dir / _upload_name(settings.collection)
        target.mkdir(parents=True, exist_ok=True)
        too_big = [u.name for u in uploads if u.size > settings.max_file_bytes]
        for name in too_big:
            st.warning(f"Skipped {esc(name)}: larger than {settings.max_file_bytes} bytes.")
        for upload in uploads:
            if upload.name not in too_big:
                (target / _upload_name(upload.name)).write_bytes(upload.getvalue())
        _run_ingest(ctx, [target])


def _run_ingest(ctx: Ctx, paths: list[Path]) -> None:
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
        _show_error(exc)
        return
    bar.progress(1.0, text="Done")
    _render_ingest_report(report)


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
        {"file": i.path, "outcome": kind, "reason": i.reason}
        for kind, items in (
            ("skipped", report.files_skipped),
            ("failed", report.files_failed),
            ("warning", report.warnings),
        )
        for i in items
    ]
    if issues:
        st.dataframe(issues, hide_index=True)


# --------------------------------------------------------------------------- feedback page


def _feedback_page(ctx: Ctx) -> None:
    st.header("Feedback")
    store = FeedbackStore.for_settings(ctx.settings)
    entries = store.list()
    if not entries:
        st.info("No feedback yet. Rate answers in the chat with the thumbs.")
        return
    st.dataframe(
        [
            {
                "id": e.id,
                "when": e.updated_at.strftime("%Y-%m-%d %H:%M"),
                "rating": e.rating,
                "question": e.question,
                "status": e.answer.status,
                "recommended": ", ".join(r.decision_id for r in e.answer.recommendations),
                "backend": e.backend,
                "comment": e.comment,
            }
            for e in entries
        ],
        hide_index=True,
    )
    downs = [e for e in entries if e.rating == "down"]
    st.subheader("Turn a thumbs-down into an eval case")
    if not downs:
        st.caption("No thumbs-down yet.")
        return
    labels = {e.id: f"#{e.id}: {e.question[:80]}" for e in downs}
    chosen = st.selectbox("Feedback", list(labels), format_func=labels.__getitem__, key="fb_pick")
    entry = next(e for e in downs if e.id == chosen)
    draft = draft_eval_case_yaml(entry, _catalogue(ctx))
    st.code(draft, language="yaml")
    st.download_button(
        "Download draft case (YAML)",
        data=draft,
        file_name=f"case-feedback-{entry.id}.yaml",
        mime="application/x-yaml",
        key="draft_download",
        on_click="ignore",
    )


# --------------------------------------------------------------------------- main


def _auth_providers() -> list[str | None] | None:
    """The sign-in providers of ``[auth]`` in .streamlit/secrets.toml; None when there is
    no such section (local use: no sign-in). ``[None]`` is the single unnamed provider."""
    try:
        if "auth" not in st.secrets:
            return None
        auth = st.secrets["auth"]
    except Exception:  # no secrets.toml at all
        return None
    if "client_id" in auth:
        return [None]
    return [name for name in auth if hasattr(auth[name], "keys") and "client_id" in auth[name]]


def _signed_in() -> bool:
    """Gate the app behind Streamlit's OIDC sign-in when ``[auth]`` is configured."""
    providers = _auth_providers()
    if providers is None:
        return True
    if st.user.get("is_logged_in"):
        name = st.user.get("name") or st.user.get("email") or "signed in"
        st.sidebar.caption(f"Signed in as {esc(str(name))}")
        st.sidebar.button("Sign out", on_click=st.logout, key="sign_out")
        return True
    st.header("kubeplan")
    st.write("Sign in to plan your Kubernetes platform.")
    if not providers:
        st.error("Sign-in is configured without a provider (client_id) in [auth].")
    for provider in providers:
        label = f"Sign in with {provider}" if provider else "Sign in"
        st.button(label, key=f"sign_in_{provider}", on_click=st.login,
                  args=(provider,) if provider else ())
    return False


def main() -> None:
    st.set_page_config(page_title="kubeplan", page_icon="☸", layout="wide")
    if not _signed_in():
        return
    _state()
    _guarded(_app)


def _app() -> None:
    error = _state().pop("callback_error", None)
    if error:
        st.error(esc(error))
    ctx = _sidebar(load_settings())
    page = _state().get("page", PAGES[0])
    if page == "Knowledge base":
        _guarded(lambda: _kb_page(ctx))
    elif page == "Feedback":
        _guarded(lambda: _feedback_page(ctx))
    else:
        _guarded(lambda: _chat_page(ctx))
        _guarded(_profile_form)


main()
