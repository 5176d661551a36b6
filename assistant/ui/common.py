"""Wiring shared by the pages: the cached ``Assistant``, the run context, error display.

Text from the corpus, uploads, users and models goes through ``esc`` (Markdown-escaped) or
``st.text``/``st.code``/``st.dataframe``: nothing in the UI uses ``unsafe_allow_html``.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import streamlit as st

from assistant.chain.api import Assistant
from assistant.chain.export import escape_markdown as esc
from assistant.config import Settings, load_settings
from assistant.errors import KubeplanError
from assistant.schemas import TOPICS, Decision
from assistant.ui.logic import hide_paths
from assistant.ui.state import state

log = logging.getLogger("kubeplan.app")

# Which variable an LLM provider needs, so the sidebar can say why the backend is missing.
PROVIDER_KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google_genai": "GOOGLE_API_KEY",
    "mistralai": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
}


@st.cache_resource(show_spinner="Loading the model and the knowledge base…", max_entries=8)
def cached_assistant(key: str, _settings: Settings) -> Assistant:
    """One Assistant (embedder, store, indexes) per distinct settings, shared by sessions and
    loaded once per server process, so no user waits for the model on their first question."""
    assistant = Assistant(_settings)
    try:
        # One answer loads everything a question needs: model, store, keyword indexes,
        # catalogue, card vectors (embedded once per catalogue, then read) and the engine.
        # Grounded whatever the default backend: a warm-up never calls a paid LLM.
        assistant.ask("How many etcd members should we run?", backend="grounded")
    except KubeplanError:
        log.info("warm-up skipped: the collection is not ready yet")
    return assistant


def shared_settings(base: Settings, collection: str = "") -> Settings:
    """The settings one cached ``Assistant`` serves: ``base`` with the sidebar's collection
    (empty: the configured one). The warm-up at start-up builds the same, so the first
    session finds the model and store already loaded."""
    return base.model_copy(update={"collection": collection or base.collection})


def warm_up() -> None:
    """Load the model, the store and the indexes for the configured settings into the
    process-wide cache (``streamlit run app.py`` calls it once at server start)."""
    started = time.perf_counter()
    try:
        settings = shared_settings(load_settings())
        cached_assistant(settings.model_dump_json(), settings)
        log.info("kubeplan warm-up done in %.1f s", time.perf_counter() - started)
    except KubeplanError as exc:  # shown to the first session instead
        log.warning("warm-up skipped: %s", exc.problem)
    except Exception:
        log.exception("warm-up failed; the first question loads the model instead")


@dataclass
class Ctx:
    settings: Settings
    assistant: Assistant
    backend: str
    topic: str | None


def llm_problem(settings: Settings) -> str | None:
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


def _server_paths() -> list[str]:
    settings: Settings | None = state().get("settings_seen")
    if settings is None:
        return []
    paths = [settings.data_dir, settings.corpus_dir, settings.store_dir]
    return [str(p.resolve()) for p in paths] + [str(p) for p in paths]


def public(text: str) -> str:
    """Text for the page: no server folders in it."""
    return hide_paths(text, _server_paths())


def guarded(render: Callable[[], None]) -> None:
    """Show errors as a message with the fix; never a stack trace in the page."""
    try:
        render()
    except KubeplanError as exc:
        show_error(exc)
    except Exception as exc:
        log.exception("kubeplan UI error")
        st.error(
            f"Something went wrong ({type(exc).__name__}). The details are in the server log; "
            "please report them."
        )


def callback(fn: Callable[..., None]) -> Callable[..., None]:
    """A widget callback whose failure becomes a message on the next run, not a trace."""

    @functools.wraps(fn)
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except KubeplanError as exc:
            state().callback_error = public(
                exc.problem + (f" Fix: {exc.fix}" if exc.fix else "")
            )
        except Exception as exc:
            log.exception("kubeplan UI callback error")
            state().callback_error = f"Something went wrong ({type(exc).__name__})."

    return run


def show_error(exc: KubeplanError) -> None:
    st.error(esc(public(exc.problem)))
    if exc.fix:
        st.info("Fix: " + esc(public(exc.fix)))


def catalogue(ctx: Ctx) -> dict[str, Decision]:
    try:
        return {d.id: d for d in ctx.assistant.catalogue()}
    except KubeplanError:
        return {}


def covered_topics(ctx: Ctx) -> list[str]:
    topics = sorted({d.topic for d in catalogue(ctx).values()})
    return topics or list(TOPICS)


def safe_url(url: str) -> str:
    """A link target that only ever points at a web page."""
    if not url.startswith(("https://", "http://")):
        return "#"
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")
