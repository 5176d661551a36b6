"""The UI's entry point: ``app.py`` calls ``run()`` on every Streamlit rerun."""

from __future__ import annotations

import streamlit as st

from ..config import load_settings
from ..export import escape_markdown as esc
from .common import guarded
from .pages.chat import chat_page
from .pages.feedback import feedback_page
from .pages.knowledge import kb_page
from .sidebar import PAGES, profile_form, sidebar
from .state import init_state, state


def run() -> None:
    st.set_page_config(page_title="kubeplan", page_icon="☸", layout="wide")
    init_state()
    guarded(_app)


def _app() -> None:
    error = state().pop("callback_error", None)
    if error:
        st.error(esc(error))
    ctx = sidebar(load_settings())
    page = state().get("page", PAGES[0])
    if page == "Knowledge base":
        guarded(lambda: kb_page(ctx))
    elif page == "Feedback":
        guarded(lambda: feedback_page(ctx))
    else:
        guarded(lambda: chat_page(ctx))
        guarded(profile_form)
