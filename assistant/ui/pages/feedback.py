"""The feedback page: every rating, and a thumbs-down as a draft eval case."""

from __future__ import annotations

import streamlit as st

from assistant.chain.feedback import FeedbackStore, draft_eval_case_yaml
from assistant.ui.common import Ctx, catalogue


def feedback_page(ctx: Ctx) -> None:
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
    draft = draft_eval_case_yaml(entry, catalogue(ctx))
    st.code(draft, language="yaml")
    st.download_button(
        "Download draft case (YAML)",
        data=draft,
        file_name=f"case-feedback-{entry.id}.yaml",
        mime="application/x-yaml",
        key="draft_download",
        on_click="ignore",
    )
