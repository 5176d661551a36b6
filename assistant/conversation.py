"""Follow-up questions resolved against the conversation, before retrieval.

"and if we run it on-prem?" after "Should we use managed Kubernetes on AWS?" becomes a
standalone question that retrieval can work with. Deterministic and pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .keyword import STOPWORDS
from .schemas import Turn

_LEADING = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what if|and if|and what about|"
    r"what else|ok(ay)?,?|and for|same for|same but|instead|why|why not|how come|"
    r"which one|and how|and when|is that|does that|would that|could that)\b",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(it|that|this|those|these|them|they|one|ones|there)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+#/-]*")
_SHORT = 6


def is_follow_up(question: str) -> bool:
    words = _WORD.findall(question)
    if len(words) <= _SHORT:
        return True
    return bool(_LEADING.match(question)) or (
        len(words) <= 12 and bool(_PRONOUNS.search(question))
    )


def topic_words(question: str) -> str:
    """The content words of a question, in order, without repeats."""
    words = [w for w in _WORD.findall(question) if w.lower() not in STOPWORDS]
    return " ".join(dict.fromkeys(words))


def standalone_question(question: str, history: Sequence[Turn] = ()) -> str:
    """``question`` made self-contained with the topic of the previous user questions.

    Each earlier user turn is resolved the same way first, so a chain of follow-ups keeps
    the topic of the question that started it.
    """
    previous: str | None = None
    for turn in history:
        if turn.role == "user" and turn.content.strip():
            previous = _resolve(turn.content.strip(), previous)
    return _resolve(question.strip(), previous)


def _resolve(question: str, previous: str | None) -> str:
    if previous is None or not is_follow_up(question):
        return question
    context = topic_words(previous)
    if not context:
        return question
    return f"{context} {question}" if question else context
