"""The UI's entry point: ``app.py`` calls ``run()`` on every Streamlit rerun."""

from __future__ import annotations

import streamlit as st

from assistant.chain.export import escape_markdown as esc
from assistant.config import load_settings
from assistant.ui.common import guarded
from assistant.ui.pages.chat import chat_page
from assistant.ui.pages.feedback import feedback_page
from assistant.ui.pages.knowledge import kb_page
from assistant.ui.sidebar import PAGES, keep_form_values, profile_form, sidebar
from assistant.ui.state import init_state, state


def run() -> None:
    st.set_page_config(page_title="kubeplan", page_icon="☸", layout="wide")
    if not _signed_in():
        return
    init_state()
    guarded(_app)


def _app() -> None:
    error = state().pop("callback_error", None)
    if error:
        st.error(esc(error))
    keep_form_values()
    ctx = sidebar(load_settings())
    page = state().get("page", PAGES[0])
    if page == "Knowledge base":
        guarded(lambda: kb_page(ctx))
    elif page == "Feedback":
        guarded(lambda: feedback_page(ctx))
    else:
        guarded(lambda: chat_page(ctx))
        guarded(profile_form)


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
        st.button(
            label,
            key=f"sign_in_{provider}",
            on_click=st.login,
            args=(provider,) if provider else (),
        )
    return False
