"""Negation scope in what users say: which words a "no", "not", "instead of" or "is not
needed" takes back. Pure functions over text, used by the profile reader.

A *cue* opens a scope. Forward cues ("no", "not", "don't", "without", "neither/nor",
"instead of", "rather than", "no longer", "moved off", "left") cover the words after them;
backward cues ("... is not needed", "... isn't a requirement", "... doesn't matter") cover
the words before them. A scope is short: it stops at punctuation, at a contrast or a new
clause ("but", "however", "we run ..."), after a few words, and (once the negated thing has
been named) at a preposition, so "there is no managed offering in our data center" takes
back the managed offering and not the data center. "not X, Y" therefore keeps Y.

A fact whose words overlap the cue itself ("no downtime", "cannot go down", "not
critical") is the fact's own wording, not a negation of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_I = re.IGNORECASE

#: Words a scope covers at most: negation binds to the phrase right after (or before) it.
MAX_SCOPE_WORDS = 8

_FORWARD = re.compile(
    r"\b(?:"
    r"(?:do|does|did)\s*(?:n't|not)\s+(?:think|believe|expect)\s+(?:that\s+)?"
    r"(?:we|you|they|it|i)(?:'ll|'d|\s+will|\s+would|\s+really|\s+actually)?"
    r"|no\s+longer|not\s+anymore|instead\s+of|rather\s+than|in\s+place\s+of|none\s+of"
    r"|(?<=we\s)used\s+to|(?<=they\s)used\s+to|(?<=i\s)used\s+to|zero"
    r"|no\s+need\s+(?:for|of)|got\s+rid\s+of|getting\s+rid\s+of"
    r"|(?:mov|migrat|transition)(?:e|ed|es|ing)\s+(?:\w+\s+){0,3}?(?:off(?:\s+of)?|away\s+from"
    r"|out\s+of|from)"
    r"|(?:phas(?:ed|ing)|mov(?:ed|ing))\s+out|shut(?:ting)?\s+down"
    r"|(?:left|leaving|abandon(?:ed|ing)?|exit(?:ed|ing)|retir(?:ed|ing)|decommission(?:ed|ing)"
    r"|dropp(?:ed|ing)|ditch(?:ed|ing))"
    r"|(?:do|does|did|is|are|was|were|have|has|had|wo|ca|could|should|would|must|need)n't"
    r"|(?:do|does|did|is|are|was|were|have|has|had|will|can|could|should|would|must|need)\s+not"
    r"|cannot|won't|can't|ain't"
    r"|not(?!\s+(?:only|just|sure\s+yet|to\s+mention))|never|without|neither|nor"
    r"|no(?!\s+(?:more|less|fewer|later|matter|sooner)\b)"
    r")\b",
    _I,
)

_BACKWARD = re.compile(
    r"(?:\b(?:is|are|was|were|'s|'re)\s*(?:n't|not)|\bnot)\s+(?:really\s+|strictly\s+)?"
    r"(?:(?:a|an|our)\s+)?(?:hard\s+|big\s+|real\s+)?"
    r"(?:requirement|required|needed|necessary|concern|issue|important|priority|must|"
    r"option|relevant|applicable|planned|in\s+scope|something\s+we\s+need|a\s+thing)\b"
    r"|\b(?:is|are)\s+(?:out\s+of\s+scope|off\s+the\s+table|unnecessary|irrelevant|overkill)\b"
    r"|\b(?:do|does)(?:n't|\s+not)\s+(?:matter|apply)\b",
    _I,
)

_WORD = re.compile(r"\w[\w'+/-]*(?:\.\w+)*")
_BREAK = re.compile(r"[,.;:!?()\[\]\n\u2014\u2013]|\s-\s")

def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: Words that end a forward scope: a contrast or the start of a new clause.
_STOP = _set(
    "but however though although yet instead while whereas so because since unless "
    "we we're we've we'll we'd i i'm i've they they're you you're only just except "
    "apart besides plus"
)
#: After "and"/"or", these start a new clause rather than continue the negated list.
_CLAUSE_START = _set(
    "we our us they i you run use have need want host deploy operate are is will "
    "plan must should can"
)
_PREPOSITIONS = _set(
    "in at on for with from to into onto by across via within inside outside per when "
    "where if until over under"
)
#: Words that do not yet name the negated thing, so a preposition after them does not end
#: the scope ("we don't run *on* AWS").
_LIGHT = _set(
    "a an the any our your their its this that these those some much many more really "
    "actually currently yet anymore longer even also still ever run running use using used "
    "have having has need needs needed want wants host hosting deploy deploying operate "
    "operating plan planning go going be being been am are is was were do does did rely "
    "depend care require requires target support allow intend expect get got stay stick "
    "buy pay own build think believe"
) | _PREPOSITIONS
#: Verbs of getting something: "can't get GPUs" says they are hard to get, not unneeded.
_ACQUIRE = _set(
    "get find obtain buy afford secure reserve source procure hire acquire keep wait"
)
_ADVERBS = _set("really always easily quickly reliably yet even")
_MIGRATION = re.compile(
    r"^(?:mov|migrat|transition|phas|left|leaving|abandon|exit|retir|decommission|dropp|ditch"
    r"|got|getting|shut|no\s+longer|used\s+to)",
    _I,
)
_MIGRATION_STOP = _set("to onto into for towards toward now")
#: Cues of inability: what follows is a problem the user has, not a thing taken back.
_INABILITY = re.compile(r"can't|cannot|can\s+not|couldn't|could\s+not", _I)


@dataclass(frozen=True)
class Scope:
    """Characters ``start:end`` of ``text`` that the cue at ``cue_start:cue_end`` negates."""

    start: int
    end: int
    cue_start: int
    cue_end: int
    cue: str


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]


def _broken(text: str, a: int, b: int) -> bool:
    return bool(_BREAK.search(text, a, b))


def _forward_scope(text: str, words: list[tuple[int, int, str]], cue: re.Match[str]) -> Scope:
    migration = bool(_MIGRATION.match(cue.group()))
    end = cue.end()
    previous_end = cue.end()
    named = False
    after = [w for w in words if w[0] >= cue.end()]
    verb = next((w[2] for w in after if w[2] not in _ADVERBS), "")
    if verb in _ACQUIRE:
        # "we can't get H100 capacity": getting it is the problem; the need stays.
        return Scope(cue.end(), cue.end(), cue.start(), cue.end(), cue.group())
    for i, (start, stop, word) in enumerate(after):
        if _broken(text, previous_end, start) or word in _STOP:
            break
        if migration and word in _MIGRATION_STOP:
            break
        if word in ("and", "or") and i + 1 < len(after) and after[i + 1][2] in _CLAUSE_START:
            break
        joined = i > 0 and after[i - 1][2] in ("and", "or", "nor")
        if named and word in _PREPOSITIONS and not joined:
            break
        if _FORWARD.fullmatch(word) and word not in ("nor", "no", "not"):
            break
        if i >= MAX_SCOPE_WORDS:
            break
        named = named or (word not in _LIGHT and word not in ("and", "or", "nor"))
        end = stop
        previous_end = stop
    return Scope(cue.end(), end, cue.start(), cue.end(), cue.group())


def _backward_scope(text: str, words: list[tuple[int, int, str]], cue: re.Match[str]) -> Scope:
    start = cue.start()
    next_start = cue.start()
    before = [w for w in words if w[1] <= cue.start()]
    for taken, (w_start, w_stop, word) in enumerate(reversed(before)):
        if _broken(text, w_stop, next_start) or word in _STOP or taken >= MAX_SCOPE_WORDS:
            break
        start = w_start
        next_start = w_start
    return Scope(start, cue.start(), cue.start(), cue.end(), cue.group())


def negation_scopes(text: str) -> list[Scope]:
    """Every negated stretch of ``text``, in order of the cues."""
    text = text.replace("\u2019", "'")
    words = _words(text)
    backward = list(_BACKWARD.finditer(text))
    # The "not" of "is not needed" looks back at what is not needed, not ahead.
    scopes = [
        _forward_scope(text, words, m)
        for m in _FORWARD.finditer(text)
        if not any(b.start() <= m.start() < b.end() for b in backward)
    ]
    scopes += [_backward_scope(text, words, m) for m in backward]
    return sorted((s for s in scopes if s.end > s.start), key=lambda s: s.cue_start)


def is_negated(scopes: list[Scope], start: int, end: int) -> bool:
    """Whether the words at ``start:end`` fall in a scope and are not part of its cue."""
    return any(
        s.start <= start < s.end and (end <= s.cue_start or start >= s.cue_end) for s in scopes
    )


def split_negated(
    text: str, own_wording: Sequence[tuple[int, int]] = ()
) -> tuple[str, str]:
    """``text`` without its negated stretches (cue and scope), and the negated words
    themselves (the scopes, cues left out), each stretch a sentence of its own.

    A scope whose cue lies inside one of the ``own_wording`` spans is kept: there the
    negation is how the thing is said ("no downtime" asks for availability), not a
    retraction of it. So is one after "can't"/"cannot": it states the problem.
    """
    text = text.replace("\u2019", "'")
    stretches: list[tuple[int, int, int, int]] = []
    for s in negation_scopes(text):
        if any(a < s.cue_end and s.cue_start < b for a, b in own_wording):
            continue
        if _INABILITY.fullmatch(s.cue):
            continue  # "we can't tell where it gets slow" is the problem to solve
        stretches.append((min(s.start, s.cue_start), max(s.end, s.cue_end), s.start, s.end))
    if not stretches:
        return text, ""
    kept: list[str] = []
    at = 0
    for start, end, _, _ in sorted(stretches):
        if start > at:
            kept.append(text[at:start])
        at = max(at, end)
    kept.append(text[at:])
    negated = [text[a:b].strip(" ,;:") for _, _, a, b in stretches]
    return " ".join("".join(kept).split()), ". ".join(n for n in negated if n)
