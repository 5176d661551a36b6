"""The sidebar: page, backend, retrieval settings, new chat, and the planning-profile form."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from assistant.chain.export import escape_markdown as esc
from assistant.config import Settings
from assistant.errors import KubeplanError
from assistant.schemas import TOPICS, PlanningProfile
from assistant.ui import logic
from assistant.ui.common import (
    Ctx,
    cached_assistant,
    callback,
    llm_problem,
    public,
    shared_settings,
)
from assistant.ui.state import explicit, inferred, new_chat, state

PAGES = ("Chat", "Knowledge base", "Feedback")
BACKENDS = ("grounded", "llm")
ALL_TOPICS = "all topics"
UNSET = "not set"
LEVELS = (UNSET, *logic.LEVELS)

PF = {
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


def sidebar(base: Settings) -> Ctx:
    sb = st.sidebar
    sb.title("kubeplan")
    sb.radio("Page", PAGES, key="page")
    sb.button(
        "New chat",
        key="new_chat",
        icon=":material/add_comment:",
        on_click=callback(new_chat),
        help="Start again: forgets the conversation and what it inferred; keeps the facts "
        "you set.",
    )
    sb.subheader("Answers")
    problem = llm_problem(base)
    backends = [b for b in BACKENDS if b != "llm" or problem is None]
    default = base.backend if base.backend in backends else "grounded"
    backend = sb.radio("Backend", backends, index=backends.index(default), key="backend")
    if problem:
        sb.caption("llm backend unavailable: " + esc(problem))
    elif backend == "llm":
        sb.caption("Model: " + esc(base.llm_model or ""))
    top_k = sb.slider("Passages retrieved (top-k)", 1, 50, base.top_k, key="top_k")
    topic = sb.selectbox("Topic filter", (ALL_TOPICS, *TOPICS), key="topic")
    collection = sb.text_input("Collection", base.collection, key="collection").strip()
    # One Assistant per collection; top-k and topic travel with each question.
    shared = shared_settings(base, collection)
    state().settings_seen = shared
    assistant = cached_assistant(shared.model_dump_json(), shared)
    settings = shared.model_copy(update={"top_k": top_k})
    try:
        known = assistant.store.collections()
    except KubeplanError as exc:
        sb.caption("Store unavailable: " + esc(public(exc.problem)))
    else:
        sb.caption("Collections in the store: " + (esc(", ".join(known)) or "none yet"))
    return Ctx(settings, assistant, str(backend), None if topic == ALL_TOPICS else str(topic))


# --------------------------------------------------------------------------- profile form


def keep_form_values() -> None:
    """Keep the form's values while another page is shown.

    Streamlit drops a widget's state in a run that does not draw the widget, and how soon
    it does so depends on how the reruns interleave; re-assigning the keys at the top of
    every run turns them into plain session values that survive (Streamlit's documented
    way to keep widget values across pages)."""
    ss = state()
    for key in PF.values():
        if key in ss:
            ss[key] = ss[key]


def _sync_form(shown: PlanningProfile) -> None:
    """Fill the form from the profile in use when that profile changed, or when the widgets
    were dropped (another page was shown): a rerun keeps what the user is typing."""
    ss = state()
    stamp = shown.model_dump_json()
    if ss.get("pf_synced") == stamp and all(key in ss for key in PF.values()):
        return
    ss.pf_synced = stamp
    ss.pf_shown = shown
    ss[PF["hosting"]] = list(shown.hosting)
    ss[PF["workloads"]] = list(shown.workloads)
    ss[PF["team_size"]] = shown.team_size or 0
    ss[PF["k8s_experience"]] = shown.k8s_experience or UNSET
    ss[PF["compliance"]] = ", ".join(shown.compliance)
    ss[PF["isolation"]] = shown.isolation or UNSET
    ss[PF["availability"]] = shown.availability or UNSET
    ss[PF["budget_sensitivity"]] = shown.budget_sensitivity or UNSET
    ss[PF["regions"]] = ", ".join(shown.regions)


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def _from_form() -> PlanningProfile:
    ss = state()

    def level(name: str) -> str | None:
        value = ss.get(PF[name], UNSET)
        return None if value == UNSET else str(value)

    data: dict[str, Any] = {
        "hosting": ss.get(PF["hosting"], []),
        "workloads": ss.get(PF["workloads"], []),
        "team_size": int(ss.get(PF["team_size"], 0) or 0) or None,
        "k8s_experience": level("k8s_experience"),
        "compliance": [c.lower() for c in _split(ss.get(PF["compliance"], ""))],
        "isolation": level("isolation"),
        "availability": level("availability"),
        "budget_sensitivity": level("budget_sensitivity"),
        "regions": _split(ss.get(PF["regions"], "")),
    }
    return PlanningProfile.model_validate(data)


def _on_submit() -> None:
    ss = state()
    shown = ss.get("pf_shown") or PlanningProfile()
    ss.explicit = logic.form_edits(shown, _from_form(), explicit())
    ss.replan = True


def profile_form() -> None:
    _sync_form(logic.used_profile(explicit(), inferred()))
    sb = st.sidebar
    sb.subheader("Planning profile")
    sb.caption(
        "Shows the facts in use. What you change here becomes a fact you set: it is sent "
        "with every question and re-plans the last one."
    )
    with sb.form("profile_form"):
        st.multiselect("Hosting", logic.HOSTING, key=PF["hosting"])
        st.multiselect("Workloads", logic.WORKLOADS, key=PF["workloads"])
        st.number_input("Platform team size (0: unknown)", 0, 10_000, key=PF["team_size"])
        st.selectbox("Kubernetes experience", LEVELS, key=PF["k8s_experience"])
        st.text_input("Compliance (comma-separated)", key=PF["compliance"])
        st.selectbox("Tenant isolation", LEVELS, key=PF["isolation"])
        st.selectbox("Availability target", LEVELS, key=PF["availability"])
        st.selectbox("Budget sensitivity", LEVELS, key=PF["budget_sensitivity"])
        st.text_input("Regions or sites (comma-separated)", key=PF["regions"])
        st.form_submit_button("Re-plan with this profile", on_click=callback(_on_submit))
