"""What a question asks: its aspects (sentences, clauses, listed items) and the options of
an "X or Y" / "X vs Y" comparison. Pure string functions; scoring happens elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.index.keyword import tokenize

#: Question words that say how people ask, not what about.
FILLER: frozenset[str] = frozenset(
    tokenize(
        "many much need needs use using best good better way ways get make want like run "
        "running set go take recommend recommendation option options approach right ok okay "
        "please thing things kind give between really actually currently today now new "
        "start look looking plan planning setup set-up choose pick decide think choice choices "
        "decision decisions question questions help advice suggest should would could us "
        "tell know part parts each answer answers aspect aspects"
    )
)

_SENTENCES = re.compile(r"(?<=[.?!;])\s+|\n+")
_ASK_WORDS = r"(?:how|what|which|where|when|whether|should|do|does|can|could|is|are|who|why)"
_CLAUSES = re.compile(
    rf"\s*,\s*(?:and\s+|but\s+)?(?={_ASK_WORDS}\b)"
    rf"|\s+(?:and|also|plus|as well as)\s+(?={_ASK_WORDS}\b|to\b|our\b|the\b|for\b|an?\b)"
    r"|\s+-\s+",
    re.IGNORECASE,
)
#: A numbered list marker: "1) ...", "(2) ...", "3. ..." (followed by text).
_NUMBERED = re.compile(r"(?:^|(?<=[\s,;:]))\(?\d{1,2}[).]\s+(?=[A-Za-z])")
#: The connective before a list's last item.
_LAST = re.compile(r"\s+(?:and|or|&|plus|as well as)\s+", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^(?:and|or|&|plus|also|then|as well as)\s+", re.IGNORECASE)
#: A qualifier after the last item that belongs to the whole list ("... and ingress for
#: 3 teams"), cut when the item is longer than a short noun phrase.
_QUALIFIER = re.compile(r"\s+(?:for|in|on|at)\s+", re.IGNORECASE)
_LEAD = re.compile(
    rf"^(?:(?:so|and|also|then|ok|okay|well|now|plus)\s+)*(?:{_ASK_WORDS}\s+)?"
    r"(?:(?:we|i|you|they|it)\s+)?",
    re.IGNORECASE,
)


def content(text: str) -> set[str]:
    return set(tokenize(text)) - FILLER


def _clauses(sentence: str) -> list[str]:
    return [c.strip(" ,.") for c in _CLAUSES.split(sentence) if c and c.strip(" ,.")]


def _mask(text: str) -> str:
    """``text`` with the separators inside parentheses hidden (same length), so a
    parenthetical stays inside its item."""
    out, depth = [], 0
    for ch in text:
        depth += ch == "("
        out.append("\0" if depth and ch in ",;:" else ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def _split_at(text: str, masked: str, pattern: re.Pattern[str]) -> list[str]:
    pieces, start = [], 0
    for m in pattern.finditer(masked):
        pieces.append(text[start:m.start()])
        start = m.end()
    pieces.append(text[start:])
    return pieces


def _items(text: str, pair: bool = False) -> list[str]:
    """Comma-separated items of ``text`` with the last one split at its connective; with
    ``pair``, also "X and Y" of two short items."""
    masked = _mask(text)
    pieces = _split_at(text, masked, re.compile(r"\s*[,;]\s*"))
    if len(pieces) == 1 and pair:
        two = _split_at(text, masked, _LAST)
        if len(two) == 2 and all(0 < len(p.split()) <= 4 for p in two):
            pieces = two
    elif len(pieces) >= 2:
        last = pieces.pop()
        joints = list(_LAST.finditer(_mask(last)))
        if joints:
            pieces += [last[:joints[-1].start()], last[joints[-1].end():]]
        else:
            pieces.append(last)
    return [_CONNECTIVE.sub("", p.strip(" ,.;:?!")).strip() for p in pieces]


def _list_items(clause: str, least: int = 3, lead_in: bool = True) -> list[str]:
    """Items of an enumeration inside a clause ("choices for X, Y and Z", "1) X 2) Y"),
    or [] when it has fewer than ``least``."""
    masked = _mask(clause)
    marks = list(_NUMBERED.finditer(masked))
    if len(marks) >= 2:
        items = [clause[m.end():(marks[i + 1].start() if i + 1 < len(marks) else None)]
                 for i, m in enumerate(marks)]
        found = [i.strip(" ,.;:?!") for i in items]
        return [i for i in found if content(i)]
    items = [i for i in _items(clause, pair=least <= 2) if i]
    if len(items) < least:
        return []
    if lead_in:
        # The enumeration starts after the clause's verb: "we need X, Y and Z".
        items[0] = _trim_left(items[0], 5)
    if len(items[-1].split()) > 3:
        cut = _QUALIFIER.search(items[-1])
        if cut and content(items[-1][:cut.start()]):
            items[-1] = items[-1][:cut.start()]
    items = [i for i in items if content(i)]
    return items if len(items) >= 2 else []


def _parts(clause: str) -> list[str]:
    """A clause's aspects: the items of its enumeration, or itself. After a colon a list
    of two already counts ("we need two things: X and Y")."""
    masked = _mask(clause)
    at = masked.find(": ")
    if at > 0 and content(clause[at + 2:]):
        head = _list_items(clause[:at]) or ([clause[:at]] if content(clause[:at]) else [])
        tail = clause[at + 2:]
        return head + (_list_items(tail, least=2, lead_in=False) or [tail.strip()])
    return _list_items(clause) or ([clause] if content(clause) else [])


def aspects(question: str, enumerations: bool = True) -> list[str]:
    """The parts of a question that each need an answer; a one-part question gives one
    aspect (itself). Order is the question's. ``enumerations=False`` (the ablation)
    keeps sentences and clauses whole instead of splitting their lists."""
    found: list[str] = []
    for sentence in _SENTENCES.split(question.strip()):
        for clause in _clauses(sentence):
            if enumerations:
                found.extend(_parts(clause))
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
