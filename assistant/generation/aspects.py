"""What a question asks: its aspects (sentences, clauses, listed items) and the options of
an "X or Y" / "X vs Y" comparison. Pure string functions; scoring happens elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..keyword import tokenize

#: Question words that say how people ask, not what about.
FILLER: frozenset[str] = frozenset(
    tokenize(
        "many much need needs use using best good better way ways get make want like run "
        "running set go take recommend recommendation option options approach right ok okay "
        "please thing things kind give between really actually currently today now new "
        "start look looking plan planning setup set-up choose pick decide think choice choices "
        "decision decisions question questions help advice suggest should would could us "
        "tell know"
    )
)

_SENTENCES = re.compile(r"(?<=[.?!;])\s+|\n+")
_ASK_WORDS = r"(?:how|what|which|where|when|should|do|does|can|could|is|are|who|why)"
_CLAUSES = re.compile(
    rf"\s*,\s*(?:and\s+|but\s+)?(?={_ASK_WORDS}\b)"
    rf"|\s+(?:and|also|plus|as well as)\s+(?={_ASK_WORDS}\b|to\b|our\b|the\b|for\b|an?\b)"
    r"|\s+-\s+",
    re.IGNORECASE,
)
#: "choices for X, Y and Z" / "the X, Y and Z choices": a list of three or more items, or
#: two items after "for"/"about"/"on".
_LIST = re.compile(
    r"(?P<items>[\w/+.' -]+?(?:\s*,\s*[\w/+.' -]+?)+\s*,?\s*(?:and|&)\s+[\w/+.' -]+)",
    re.IGNORECASE,
)
_LEAD = re.compile(
    rf"^(?:(?:so|and|also|then|ok|okay|well|now|plus)\s+)*(?:{_ASK_WORDS}\s+)?"
    r"(?:(?:we|i|you|they|it)\s+)?",
    re.IGNORECASE,
)


def content(text: str) -> set[str]:
    return set(tokenize(text)) - FILLER


def _clauses(sentence: str) -> list[str]:
    return [c.strip(" ,.") for c in _CLAUSES.split(sentence) if c and c.strip(" ,.")]


def _list_items(clause: str) -> list[str]:
    """Items of an enumeration inside a clause, or [] when it has none."""
    m = _LIST.search(clause)
    if m is None:
        return []
    text = m.group("items")
    first_comma = text.index(",")
    text = _trim_left(text[:first_comma], 4) + text[first_comma:]
    items = [i.strip(" ,.") for i in re.split(r"\s*,\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+", text)]
    if len(items) >= 2:
        # The enumeration starts after the clause's verb and ends before its qualifier.
        items[-1] = _trim_right(items[-1], 5)
    items = [i for i in items if i and content(i)]
    # An enumeration of single words or short noun phrases; long items are clauses.
    if len(items) < 3 or any(len(i.split()) > 5 for i in items):
        return []
    return items


def aspects(question: str) -> list[str]:
    """The parts of a question that each need an answer; a one-part question gives one
    aspect (itself). Order is the question's."""
    found: list[str] = []
    for sentence in _SENTENCES.split(question.strip()):
        for clause in _clauses(sentence):
            items = _list_items(clause)
            if items:
                found.extend(items)
            elif content(clause):
                found.append(clause)
    unique = list(dict.fromkeys(found))
    return unique or [question.strip()]


# --------------------------------------------------------------------------- comparisons

@dataclass(frozen=True)
class Comparison:
    """The options a question weighs against each other, in the question's words."""

    options: tuple[str, ...]


_VS = re.compile(r"\s+(?:vs\.?|versus|or)\s+|\s*/\s*(?=[A-Za-z])", re.IGNORECASE)
_BOUNDARY = re.compile(
    r"[?.!;:,()]|\b(?:for|in|on|with|when|if|because|since|given|so|to|at|over|than|worth|"
    r"should|would|could|which|what|how|is|are|do|does|we|our|us|need|needs|want|about|of)\b",
    re.IGNORECASE,
)
_RIGHT_BOUNDARY = re.compile(
    r"[?.!;:,()]|\b(?:for|in|on|with|when|if|because|since|given|so|to|at|over|than|worth|"
    r"should|would|could|which|what|how|is|are|do|does)\b",
    re.IGNORECASE,
)
_OPTION_LEAD = re.compile(
    r"^(?:(?:use|using|go\s+with|pick|choose|run|adopt|either|a|an|the|just|rather|"
    r"better|stick\s+with|move\s+to|switch\s+to)\s+)+",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"\bbetween\s+(?P<a>[^,?.;]+?)\s+and\s+(?P<b>[^,?.;]+)", re.IGNORECASE)


def _trim_left(text: str, words: int = 5) -> str:
    """The option just before a connective: back to the last boundary, at most ``words``."""
    cut = 0
    for m in _BOUNDARY.finditer(text):
        cut = m.end()
    tail = text[cut:].strip()
    return " ".join(tail.split()[-words:])


def _trim_right(text: str, words: int = 6) -> str:
    m = _RIGHT_BOUNDARY.search(text)
    head = text[: m.start()] if m and m.start() > 0 else text
    if m and m.start() == 0:
        stop = re.search(r"[?.!;:,()]", head)
        head = head[: stop.start()] if stop else head
    return " ".join(head.strip().split()[:words])


def _clean_option(option: str) -> str:
    return _OPTION_LEAD.sub("", option.strip(" '\"")).strip(" '\"")


def comparison(question: str) -> Comparison | None:
    """The options of "X or Y", "X vs Y vs Z", "between X and Y"; ``None`` when the
    question weighs nothing against anything (or its "or" joins mere words)."""
    m = _BETWEEN.search(question)
    if m:
        options = [_clean_option(_trim_right(m.group("a"))),
                   _clean_option(_trim_right(m.group("b")))]
    else:
        for sentence in _SENTENCES.split(question.strip()):
            pieces = _VS.split(sentence)
            if len(pieces) < 2:
                continue
            options = [_clean_option(_trim_left(pieces[0]))]
            options += [_clean_option(_trim_left(p) if i < len(pieces) - 2 else _trim_right(p))
                        for i, p in enumerate(pieces[1:])]
            # Middle pieces of "A vs B vs C" are whole options already.
            options = [o for o in options if o]
            break
        else:
            return None
    options = [o for o in options if content(o)]
    if len(options) < 2:
        return None
    return Comparison(options=tuple(dict.fromkeys(options)))
