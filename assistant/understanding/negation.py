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

The clause structure (``structured=True``; off in the ``negation-structure`` ablation) adds:
a scope runs on over a list under one cue ("no PCI, HIPAA or SOC 2"), skips a parenthesis
right after its cue ("we do not, for budget reasons, have GPUs"); a migration or past-state
cue ("used to", "no longer", "moved off") takes back its whole clause, prepositions included;
quantifier cues ("nothing we run", "none of us has") cover their clause; "X is being shut
down" takes back X; "we evaluated X but chose Y" takes back X; a swap ("Cilium instead of
the AWS VPC CNI") is marked so a fact stated elsewhere in the message still holds; and
"not ... yet, but ..." is a plan, not a negation. The open word classes of these rules are
data (``vocabularies/negation_cues.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

_I = re.IGNORECASE

#: Words a scope covers at most: negation binds to the phrase right after (or before) it.
MAX_SCOPE_WORDS = 8
#: ...and a list under one cue ("no Windows nodes, GPUs or Arm boxes") at most.
MAX_LIST_WORDS = 14
#: Words a parenthesis right after a cue may hold ("we do not, for budget reasons, have").
MAX_ASIDE_WORDS = 10

_FORWARD = re.compile(
    r"\b(?:"
    r"(?:do|does|did)\s*(?:n't|not)\s+(?:think|believe|expect)\s+(?:that\s+)?"
    r"(?:we|you|they|it|i)(?:'ll|'d|\s+will|\s+would|\s+really|\s+actually)?"
    r"|no\s+longer|not\s+anymore|instead\s+of|rather\s+than|in\s+place\s+of|in\s+lieu\s+of"
    r"|none\s+of"
    r"|(?<=we\s)used\s+to|(?<=they\s)used\s+to|(?<=i\s)used\s+to|zero"
    r"|no\s+need\s+(?:for|of)|got\s+rid\s+of|getting\s+rid\s+of"
    r"|(?:(?:mov|migrat)(?:e|ed|es|ing)|transition(?:s|ed|ing)?|switch(?:es|ed|ing)?)"
    r"\s+(?:\w+\s+){0,3}?(?:off(?:\s+of)?|away\s+from"
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
    "buy pay own build think believe anything something everything any"
) | _PREPOSITIONS
#: Verbs of getting something: "can't get GPUs" says they are hard to get, not unneeded.
_ACQUIRE = _set(
    "get find obtain buy afford secure reserve source procure hire acquire keep wait"
)
_ADVERBS = _set("really always easily quickly reliably yet even")
_MIGRATION = re.compile(
    r"^(?:mov|migrat|transition|switch|phas|left|leaving|abandon|exit|retir|decommission|dropp|ditch"
    r"|got|getting|shut|no\s+longer|used\s+to)",
    _I,
)
_MIGRATION_STOP = _set("to onto into for towards toward now")
#: Cues of inability: what follows is a problem the user has, not a thing taken back.
_INABILITY = re.compile(r"can't|cannot|can\s+not|couldn't|could\s+not", _I)


#: Words that end a quantifier's clause ("nothing we run needs a GPU, but ...").
_CLAUSE_END = _set("but however though although yet whereas while because since unless except")
_MODALS = _set("may should must shall ought can could")
_OR_NOT = re.compile(r"\b(?:or|whether)\s+not$", _I)
#: Verbs that open a quantifier's predicate ("nobody here *has* run a cluster").
_VERBS = _set(
    "has have had is are was were does do did knows know needs need uses use runs run "
    "can will would ever wants want requires require"
)
#: Words that open a clause of their own after a comma: no item of a negated list.
_SUBJECTS = _set(
    "we we're we've i i'm you they it it's our us everything all that which who what how "
    "where when why whether"
)


@cache
def negation_cues() -> dict[str, tuple[str, ...]]:
    """The open word classes of the clause-structure rules (``vocabularies/negation_cues.yaml``)."""
    raw = resources.files("assistant").joinpath("vocabularies/negation_cues.yaml")
    data = yaml.safe_load(raw.read_text(encoding="utf-8")) or {}
    return {str(k): tuple(str(w) for w in v or ()) for k, v in data.items()}


def _alternation(words: Sequence[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


@cache
def _structure() -> dict[str, re.Pattern[str]]:
    c = negation_cues()
    return {
        "quantifier": re.compile(rf"\b(?:{_alternation(c['quantifiers'])})\b", _I),
        "ended": re.compile(
            r"\b(?:is|are|was|were|'s|'re|has\s+been|have\s+been|will\s+be|gets|got|getting)"
            r"\s+(?:being\s+|now\s+|finally\s+|soon\s+|already\s+|slowly\s+)?"
            rf"(?:{_alternation(c['ended'])})\b", _I),
        "rejected": re.compile(
            rf"\b(?:{_alternation(c['weighed'])})\b(?P<x>[^.;:!?]{{1,80}}?)\s*,?\s*\bbut\s+"
            r"(?:we\s+|then\s+|in\s+the\s+end\s+|finally\s+|eventually\s+|ultimately\s+)*"
            rf"(?:{_alternation(c['chosen'])})\b", _I),
        "substitution": re.compile(rf"(?:{_alternation(c['substitution'])})", _I),
        "not_yet": re.compile(
            r"[\s,]*(?:[\w'-]+\s+){0,2}?yet\b[\s,;\u2014\u2013-]*"
            rf"(?:{_alternation(c['not_yet_contrast'])})\b", _I),
    }


@dataclass(frozen=True)
class Scope:
    """Characters ``start:end`` of ``text`` that the cue at ``cue_start:cue_end`` negates.

    ``kind``: ``plain``; ``substitution`` (a thing swapped out, "instead of X"), which
    takes back a choice rather than a fact; ``rejected`` ("evaluated X but chose Y");
    ``ended`` ("X is being shut down"); ``quantifier`` ("nothing we run needs X")."""

    start: int
    end: int
    cue_start: int
    cue_end: int
    cue: str
    kind: str = "plain"


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]


def _broken(text: str, a: int, b: int) -> bool:
    return bool(_BREAK.search(text, a, b))


def _comma_only(text: str, a: int, b: int) -> bool:
    return text[a:b].strip() == ","


def _continues_list(after: list[tuple[int, int, str]], i: int) -> bool:
    """Whether the words from ``after[i]`` on are the next item of a list under one cue:
    a few words up to "or"/"nor"/"and" (not one opening a clause), no new subject."""
    for j in range(i, min(i + 5, len(after))):
        word = after[j][2]
        if word in _SUBJECTS or word in _STOP:
            return False
        if word in ("or", "nor", "and") and j > i:
            follower = after[j + 1][2] if j + 1 < len(after) else ""
            return not (word == "and" and follower in _CLAUSE_START | _SUBJECTS)
    return False


def _aside_end(text: str, after: list[tuple[int, int, str]], cue_end: int) -> int:
    """Index in ``after`` where the words resume after a parenthesis right behind the cue
    ("we do not, for budget reasons, have GPUs"), or 0 when there is none."""
    if not after or not _comma_only(text, cue_end, after[0][0]) or after[0][2] in _SUBJECTS:
        return 0
    for j in range(1, min(MAX_ASIDE_WORDS + 1, len(after))):
        gap = text[after[j - 1][1]:after[j][0]]
        if _comma_only(text, after[j - 1][1], after[j][0]):
            # The negated clause resumes after the aside ("..., have GPUs"); a list or a
            # new clause there ("managed or not, how to autoscale, and where ...") is none.
            resumed = after[j][2]
            return 0 if resumed in _SUBJECTS | _STOP | {"and", "or"} else j
        if _BREAK.search(gap):
            return 0
    return 0


def _forward_scope(
    text: str, words: list[tuple[int, int, str]], cue: re.Match[str], structured: bool = True
) -> Scope:
    migration = bool(_MIGRATION.match(cue.group()))
    kind = "plain"
    if structured and _structure()["substitution"].fullmatch(cue.group()):
        kind = "substitution"
    after = [w for w in words if w[0] >= cue.end()]
    verb = next((w[2] for w in after if w[2] not in _ADVERBS), "")
    if verb in _ACQUIRE:
        # "we can't get H100 capacity": getting it is the problem; the need stays.
        return Scope(cue.end(), cue.end(), cue.start(), cue.end(), cue.group())
    skip = _aside_end(text, after, cue.end()) if structured else 0
    after = after[skip:]
    start = after[0][0] if skip and after else cue.end()
    end = start
    previous_end = start
    named = False
    limit = MAX_SCOPE_WORDS
    for i, (w_start, stop, word) in enumerate(after):
        if _broken(text, previous_end, w_start) and not (i == 0 and skip):
            if not (structured and named and _comma_only(text, previous_end, w_start)
                    and _continues_list(after, i)):
                break
            limit = MAX_LIST_WORDS
        if word in _STOP:
            break
        if migration and word in _MIGRATION_STOP:
            break
        if word in ("and", "or") and i + 1 < len(after) and after[i + 1][2] in _CLAUSE_START:
            break
        joined = i > 0 and after[i - 1][2] in ("and", "or", "nor")
        # A past situation ("we used to run our own racks in a colo") is taken back whole.
        past = structured and migration
        if named and word in _PREPOSITIONS and not joined and not past:
            break
        if _FORWARD.fullmatch(word) and word not in ("nor", "no", "not"):
            break
        if i >= limit:
            break
        named = named or (word not in _LIGHT and word not in ("and", "or", "nor"))
        end = stop
        previous_end = stop
    return Scope(start, end, cue.start(), cue.end(), cue.group(), kind)


def _quantifier_scope(
    text: str, words: list[tuple[int, int, str]], cue: re.Match[str]
) -> Scope:
    """"nothing we run needs a GPU", "none of us has run a cluster": the rest of the
    clause, up to a break or a contrast."""
    after = [w for w in words if w[0] >= cue.end()]
    # "nobody on our three-person team has ...": the subject's own words are no part of
    # what is denied; the scope starts at the clause's verb.
    verb = 0
    if after and after[0][2] in _PREPOSITIONS:
        verb = next((i for i, w in enumerate(after[:9]) if w[2] in _VERBS), 0)
    if verb and _broken(text, cue.end(), after[verb][0]):
        verb = 0
    after = after[verb:]
    if after and after[0][2] in _MODALS:
        # "nobody may SSH into nodes" is a rule the user wants kept, not a fact taken back.
        return Scope(cue.end(), cue.end(), cue.start(), cue.end(), cue.group(), "quantifier")
    start = after[0][0] if verb else cue.end()
    end = start
    previous_end = start
    for i, (w_start, stop, word) in enumerate(after):
        if (i and _broken(text, previous_end, w_start)) or word in _CLAUSE_END \
                or i >= MAX_SCOPE_WORDS + 2:
            break
        end = stop
        previous_end = stop
    return Scope(start, end, cue.start(), cue.end(), cue.group(), "quantifier")


def _backward_scope(
    text: str, words: list[tuple[int, int, str]], cue: re.Match[str], kind: str = "plain"
) -> Scope:
    start = cue.start()
    next_start = cue.start()
    before = [w for w in words if w[1] <= cue.start()]
    for taken, (w_start, w_stop, word) in enumerate(reversed(before)):
        if _broken(text, w_stop, next_start) or word in _STOP or taken >= MAX_SCOPE_WORDS:
            break
        start = w_start
        next_start = w_start
    return Scope(start, cue.start(), cue.start(), cue.end(), cue.group(), kind)


def negation_scopes(text: str, structured: bool = True) -> list[Scope]:
    """Every negated stretch of ``text``, in order of the cues. ``structured`` False reads
    only the core cues (the ``negation-structure`` ablation)."""
    text = text.replace("\u2019", "'")
    words = _words(text)
    backward = list(_BACKWARD.finditer(text))
    ended: list[re.Match[str]] = []
    quantifiers: list[re.Match[str]] = []
    rejected: list[re.Match[str]] = []
    if structured:
        patterns = _structure()
        ended = list(patterns["ended"].finditer(text))
        quantifiers = list(patterns["quantifier"].finditer(text))
        rejected = list(patterns["rejected"].finditer(text))
    taken = [*backward, *ended, *quantifiers]
    # The "not" of "is not needed" looks back at what is not needed, not ahead.
    scopes = [
        _forward_scope(text, words, m, structured)
        for m in _FORWARD.finditer(text)
        if not any(b.start() <= m.start() < b.end() for b in taken)
    ]
    if structured:
        # "EKS or not, a blueprint, CNI": "or not" closes an alternative, it takes nothing back.
        scopes = [s for s in scopes
                  if not (s.cue.lower() == "not" and _OR_NOT.search(text, 0, s.cue_end))]
        not_yet = _structure()["not_yet"]
        # "no GPU workloads yet, but training starts next quarter": a plan, not a denial.
        scopes = [s for s in scopes if not (s.kind == "plain" and not_yet.match(text, s.end))]
    scopes += [_backward_scope(text, words, m) for m in backward]
    scopes += [_backward_scope(text, words, m, "ended") for m in ended]
    scopes += [_quantifier_scope(text, words, m) for m in quantifiers]
    scopes += [
        Scope(m.start("x"), m.end("x"), m.start(), m.start("x"), text[m.start():m.start("x")],
              "rejected")
        for m in rejected
    ]
    return sorted((s for s in scopes if s.end > s.start), key=lambda s: s.cue_start)


#: Polar questions about needing or wanting something: their object is what the user
#: asks about, not a fact they state ("Do we need a fleet manager?" says nothing about
#: having many clusters; "Is a sovereign cloud worth paying for?" sets no residency rule).
_ASKED_FORWARD = re.compile(
    r"\b(?:do|does|would|will|should)\s+(?:we|you|they|i|it)\s+(?:really\s+|actually\s+|even\s+"
    r"|still\s+)?(?:need|want|require|benefit\s+from)\b",
    _I,
)
_ASKED_BACKWARD = re.compile(
    r"\b(?:is|are)\s+(?=[^.?!;:]{1,60}?\s(?:really\s+|actually\s+)?(?:worth|necessary|needed"
    r"|required|overkill|a\s+must)\b)",
    _I,
)
_OWN_SITUATION = re.compile(
    r"\s(?:for|on|in|across|at|with|inside)\s+(?:our|my|the\s+company's)\b", _I
)
_ASKED_END = re.compile(
    r"\s(?:really\s+|actually\s+)?(?:worth|necessary|needed|required|overkill|a\s+must)\b", _I
)


def asked_spans(text: str) -> list[tuple[int, int]]:
    """Stretches of ``text`` that a question asks whether the user needs: neither said nor
    negated. Only inside sentences ending in a question mark."""
    text = text.replace("\u2019", "'")
    spans: list[tuple[int, int]] = []
    for sentence in re.finditer(r"[^.?!]*\?", text):
        a, b = sentence.start(), sentence.end()
        for m in _ASKED_FORWARD.finditer(text, a, b):
            # The object asked about ends where the user's own situation begins ("do we
            # need a fleet manager | for our two AKS clusters?").
            own = _OWN_SITUATION.search(text, m.end(), b)
            spans.append((m.end(), own.start() if own else b - 1))
        for m in _ASKED_BACKWARD.finditer(text, a, b):
            end = _ASKED_END.search(text, m.end(), b)
            if end is not None:
                spans.append((m.end(), end.start()))
    return spans


def is_negated(scopes: list[Scope], start: int, end: int) -> bool:
    """Whether the words at ``start:end`` fall in a scope and are not part of its cue."""
    return bool(negating_kinds(scopes, start, end))


def negating_kinds(scopes: list[Scope], start: int, end: int) -> frozenset[str]:
    """The kinds of the scopes that negate the words at ``start:end`` (empty: none)."""
    return frozenset(
        s.kind for s in scopes
        if s.start <= start < s.end and (end <= s.cue_start or start >= s.cue_end)
    )


def split_negated(
    text: str, own_wording: Sequence[tuple[int, int]] = (), structured: bool = True
) -> tuple[str, str]:
    """``text`` without its negated stretches (cue and scope), and the negated words
    themselves (the scopes, cues left out), each stretch a sentence of its own.

    A scope whose cue lies inside one of the ``own_wording`` spans is kept: there the
    negation is how the thing is said ("no downtime" asks for availability), not a
    retraction of it. So is one after "can't"/"cannot": it states the problem, and one
    of a thing said to be ending ("X is being retired"): it is what gets replaced.
    """
    text = text.replace("\u2019", "'")
    stretches: list[tuple[int, int, int, int]] = []
    for s in negation_scopes(text, structured):
        if any(a < s.cue_end and s.cue_start < b for a, b in own_wording):
            continue
        if _INABILITY.fullmatch(s.cue):
            continue  # "we can't tell where it gets slow" is the problem to solve
        if s.kind == "ended":
            # "ingress-nginx is being retired": no longer the user's situation (the profile
            # drops it), but still what the question is about (what replaces it).
            continue
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
