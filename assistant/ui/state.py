"""The session's state: messages, the explicit, inferred and retracted profiles, pending
actions.

Values the user must keep (the profile form, the explicit profile) live under keys that no
widget owns: Streamlit drops a widget's key when the widget is not drawn, e.g. on another page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import streamlit as st

from assistant.chain.plan_diff import PlanDiff
from assistant.schemas import PlanAnswer, PlanningProfile, Source, Turn

# {"role": "user", "content": str} or
# {"role": "assistant", "answer": PlanAnswer, "key": str, "history": list[Turn],
#  "profile": PlanningProfile | None (the explicit profile sent), "diff": PlanDiff | None,
#  "note": str, "changes": list[str], "others": list[Source]}
Message = dict[str, Any]


def state() -> Any:
    """The session state; ``init_state`` ran at the start of the run."""
    return st.session_state


def init_state() -> Any:
    ss = st.session_state
    ss.setdefault("messages", [])
    ss.setdefault("explicit", PlanningProfile())
    ss.setdefault("inferred", PlanningProfile())
    ss.setdefault("retracted", PlanningProfile())  # inferred facts the user removed
    ss.setdefault("pending", None)
    ss.setdefault("replan", False)
    ss.setdefault("answering", None)  # an open question the user is answering
    return ss


def messages() -> list[Message]:
    found: list[Message] = state().messages
    return found


def explicit() -> PlanningProfile:
    value: PlanningProfile = state().explicit
    return value


def inferred() -> PlanningProfile:
    value: PlanningProfile = state().inferred
    return value


def retracted() -> PlanningProfile:
    value: PlanningProfile = state().retracted
    return value


def answer_message(
    answer: PlanAnswer,
    history: list[Turn],
    profile: PlanningProfile | None,
    *,
    diff: PlanDiff | None = None,
    note: str = "",
    changes: Sequence[str] = (),
    others: Sequence[Source] = (),
) -> Message:
    return {
        "role": "assistant",
        "answer": answer,
        "key": uuid.uuid4().hex[:12],
        "history": history,
        "profile": profile,
        "diff": diff,
        "note": note,
        "changes": list(changes),
        "others": list(others),
    }


def superseded(items: Sequence[Message], i: int) -> bool:
    """Whether a re-plan (the answer right after it) replaced answer ``i``."""
    return (
        items[i]["role"] == "assistant"
        and i + 1 < len(items)
        and items[i + 1]["role"] == "assistant"
    )


def turns(items: Sequence[Message]) -> list[Turn]:
    found = []
    for i, m in enumerate(items):
        if superseded(items, i):
            continue
        if m["role"] == "user":
            found.append(Turn(role="user", content=m["content"]))
        else:
            found.append(Turn(role="assistant", content=m["answer"].summary))
    return found


def plan_answers() -> list[PlanAnswer]:
    """The answers that make up the plan: every question's latest answer."""
    items = messages()
    return [
        m["answer"]
        for i, m in enumerate(items)
        if m["role"] == "assistant" and not superseded(items, i)
    ]


def last_answer() -> PlanAnswer | None:
    found = next((m for m in reversed(messages()) if m["role"] == "assistant"), None)
    return found["answer"] if found else None


def new_chat() -> None:
    """Forget the conversation, what it inferred and what the user retracted of that; the
    explicit profile stays."""
    ss = state()
    ss.messages = []
    ss.inferred = PlanningProfile()
    ss.retracted = PlanningProfile()
    ss.pending = None
    ss.answering = None
