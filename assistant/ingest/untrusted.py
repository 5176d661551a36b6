"""Text from documents is data, never instructions: flatten it for prompts, flag it at ingest.

Everything a document carries (title, headings, passage text) reaches an LLM prompt only
through ``flatten``: one line, no Markdown structure that could forge a prompt section,
no invisible characters, bounded length. ``instruction_flags`` marks passages whose text
reads like orders to an assistant (the patterns are data in ``prompts/scope.yaml``).
Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.errors import InputError
from assistant.understanding.scope import scope_rules

INSTRUCTION_LIKE = "instruction-like"

#: Zero-width and bidirectional-control characters: invisible, so a reader cannot see
#: what they hide or reorder.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff]")
_HEADING_MARK = re.compile(r"(^|\s)#{1,6}(?=\s)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)?")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*[a-zA-Z][\w+.-]*:[^)]*\)?")
_FENCE = re.compile(r"`{3,}|~{3,}")
_ROLE_TAG = re.compile(r"</?\s*(system|user|assistant|instructions?|passages?|document)\b[^>]*>",
                       re.IGNORECASE)


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def strip_images(text: str) -> str:
    """``text`` without Markdown images (their alt text stays): a client that renders
    Markdown fetches the URL, and with it whatever the URL carries. (HTML stays as text:
    every interface shows passages as text, never as HTML.)"""
    return _IMAGE.sub(lambda m: m.group(1), text)


def flatten(text: str, limit: int | None = None) -> str:
    """``text`` as inert data on one line: invisible characters, control characters,
    Markdown headings, images, links (their targets), code fences and role tags removed,
    whitespace collapsed, at most ``limit`` characters."""
    text = strip_invisible(text)
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _FENCE.sub(" ", text)
    text = _ROLE_TAG.sub(" ", text)
    text = _HEADING_MARK.sub(r"\1", text)
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def instruction_flags(text: str) -> list[str]:
    """``["instruction-like"]`` when ``text`` addresses an assistant with orders."""
    visible = strip_invisible(text)
    rules = scope_rules().document_injection
    if any(p.search(visible) for p in rules) or (visible != text and _hides_words(text)):
        return [INSTRUCTION_LIKE]
    return []


#: Surrogates that are not Python's stand-ins for undecodable bytes (U+DC80..U+DCFF).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def clean_question(question: str, max_chars: int) -> str:
    """A question as valid, visible text, or ``InputError`` when it is empty or too long.

    Bytes that were not UTF-8 (command-line arguments keep them as lone surrogates)
    become U+FFFD; control and invisible characters are dropped.
    """
    text = _LONE_SURROGATE.sub("\ufffd", question)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = strip_invisible(text)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    if len(text) > max_chars:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {max_chars}.",
            "ask a shorter question (one planning question at a time), or raise "
            "KUBEPLAN_MAX_QUESTION_CHARS.",
        )
    if not text.strip():
        raise InputError("the question is empty.", "ask a planning question.")
    return text.strip()


def _hides_words(text: str) -> bool:
    """Invisible characters inside words: a way to slip text past pattern checks."""
    return re.search(r"\w[\u200b-\u200d\u2060\ufeff]+\w", text) is not None


__all__ = [
    "INSTRUCTION_LIKE",
    "clean_question",
    "flatten",
    "instruction_flags",
    "strip_images",
    "strip_invisible",
]
