"""Follow-up questions made standalone against the conversation, before retrieval.

"and if we have to run on-prem?" after "How should we run secrets on AKS?" becomes "How
should we run secrets if we have to run on-prem?": the earlier question keeps its topic,
the facts the follow-up changes (hosting, workloads, team, ...) are taken out of it, and the
follow-up's own words take their place. A follow-up that asks something new about the same
topic leads with its own words and keeps the situation ("what about TLS certificates?" ->
"What about TLS certificates when we expose our web apps on AKS?"), or names the question
it follows when that cannot be said as a clause. Deterministic and pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.index.keyword import STOPWORDS
from assistant.schemas import PlanningProfile, Turn
from assistant.understanding.profile import fact_spans, read_profile

_I = re.IGNORECASE
_LEADING = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what if|and if|and what about|"
    r"what else|ok(ay)?,?|and for|same for|same but|instead|why|why not|how come|"
    r"which one|and how|and when|is that|does that|would that|could that)\b",
    _I,
)
_PRONOUNS = re.compile(r"\b(it|that|this|those|these|them|they|one|ones|there)\b", _I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+#/-]*")
_SHORT = 6

# Openers of a follow-up, from the most to the least specific; what each leaves is the
# follow-up's own content.
_FILLER = re.compile(r"^(?:(?:and|but|so|ok(?:ay)?|then|also|well|hmm|right)\b[,\s]*)+", _I)
_ABOUT = re.compile(r"^(?:what|how)\s+about\s+", _I)
_WHAT_IF = re.compile(r"^(?:what|how)\s+if\s+", _I)
_SAME = re.compile(
    r"^(?:the\s+)?same(?:\s+(?:question|thing|again))?(?:\s*,)?(?:\s+but)?\s*(?=\S)", _I
)
_CLAUSE = re.compile(
    r"^(?:if|when|for|with|without|on|in|at|using|under|across|assuming|given)\b", _I
)
_AUX = re.compile(
    r"^(?:should|shall|do|does|did|is|are|can|could|would|will|must|may|might)\b", _I
)
_FIELDS = (
    "hosting", "workloads", "team_size", "k8s_experience", "compliance", "isolation",
    "availability", "budget_sensitivity", "regions",
)
_LEAD_IN = re.compile(r"(?:\b(?:on|in|at|with|for|using|via|from|to)\s+)?"
                      r"(?:(?:a|an|the|our)\s+)?$", _I)
#: The noun a fact word qualifies ("GPU *workloads*", "PCI *data*") goes with it.
_HEAD_NOUN = re.compile(
    r"[\s-]*(?:workloads?|nodes?|node pools?|data|jobs?|instances?|scope|requirements?|"
    r"apps?|applications?|servers?|machines?|hardware|clusters?|accounts?|subscriptions?)\b",
    _I,
)
_AUX_BEFORE = re.compile(
    r"\b(?:should|shall|do|does|can|could|would|will|must|may|might)\s*(?:(?:a|an|the|our)\s+)?$",
    _I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


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
    """``question`` made self-contained with the previous user questions.

    Each earlier user turn is resolved the same way first, so a chain of follow-ups keeps
    the topic of the question that started it.
    """
    previous: str | None = None
    for turn in history:
        if turn.role == "user" and turn.content.strip():
            previous = _resolve(turn.content.strip(), previous)
    return _resolve(question.strip(), previous)


def _resolve(question: str, previous: str | None) -> str:
    if previous is None or not question or not is_follow_up(question):
        return question
    return rewrite_follow_up(question, previous)


def rewrite_follow_up(follow_up: str, previous: str) -> str:
    """One readable question from a follow-up and the (standalone) question it follows."""
    reading = read_profile(follow_up)
    changed = _changed_fields(reading.profile)
    base, cut = _without_facts(previous, changed | _changed_fields(reading.negated))
    text = _FILLER.sub("", follow_up.strip()).strip()
    about = bool(_ABOUT.match(text))
    text = _ABOUT.sub("", text)
    text = _WHAT_IF.sub("if ", text)
    text = _SAME.sub("", text)
    text = text.rstrip(" ?.!")
    if not text:
        return _ask(base)
    if _CLAUSE.match(text):
        return _ask(f"{base} {_lower_first(text)}")
    if cut and (about or len(_WORD.findall(text)) <= 4):
        # A bare fact ("on-prem", "GKE", "Windows nodes", "a team of 3") said in place of
        # the one the earlier question had.
        lead = "on" if changed == {"hosting"} else "for"
        joined = text if _starts_like_place(text) else f"{lead} {text}"
        return _ask(f"{base} {joined}")
    if re.fullmatch(r"why(?: not)?", text, _I) and _AUX.match(base):
        return _ask(f"{text.capitalize()} {_lower_first(base)}")
    return _followed(f"what about {text}" if about else text, previous)


_HOW_WE = re.compile(
    r"^(?:how|where)\s+(?:do|does|should|can|could|would|will|shall)\s+(?P<who>we|i)\s+"
    r"(?P<rest>.+)$",
    _I,
)
_SHOULD_WE = re.compile(
    r"^(?:should|do|can|could|would|will|shall)\s+(?P<who>we|i)\s+(?P<rest>.+)$", _I
)


def _followed(text: str, previous: str) -> str:
    """A follow-up that asks something new on the same topic: its own words first (they
    are what it asks), then the situation of the question it follows ("... when we expose
    our web apps on AKS?"), or that question itself."""
    sentences = [s for s in _SENTENCE.split(previous.strip()) if s]
    asked = next((s for s in reversed(sentences) if s.endswith("?")), sentences[-1])
    stem = asked.rstrip(" ?.!")
    for pattern, joiner in ((_HOW_WE, "when"), (_SHOULD_WE, "if")):
        match = pattern.match(stem)
        if match:
            return _ask(f"{text} {joiner} {match.group('who').lower()} {match.group('rest')}")
    return f"{_upper_first(text)}? (Follow-up to: {' '.join(previous.split())})"


def _changed_fields(profile: PlanningProfile) -> set[str]:
    data = profile.model_dump()
    return {field for field in _FIELDS if data[field] not in (None, [])}


def _without_facts(question: str, fields: set[str]) -> tuple[str, bool]:
    """``question`` with its question sentence last, without the words that state the
    facts of ``fields`` where they can go (a phrase such as "on AKS", "for GPU workloads",
    or a subject such as "a team of 3"), and without the sentences that only set the scene
    for those facts; and whether any fact was cut from the question sentence."""
    sentences = [s for s in _SENTENCE.split(question.strip()) if s]
    asked = next((s for s in reversed(sentences) if s.endswith("?")), sentences[-1])
    kept: list[str] = []
    for sentence in sentences:
        if sentence is not asked and not (fields and fact_spans(sentence, fields)):
            kept.append(sentence)
    cut_text = _cut(asked, fact_spans(asked, fields)) if fields else asked
    kept.append(cut_text)
    changed = " ".join(cut_text.split()) != " ".join(asked.split())
    return " ".join(kept).strip().rstrip(" ?.!,"), changed


def _cut(sentence: str, spans: list[tuple[int, int]]) -> str:
    out = sentence
    for start, end in reversed(_merged(spans)):
        lead = _LEAD_IN.search(out[:start])
        cut_from = lead.start() if lead else start
        after_preposition = (
            lead is not None
            and re.match(r"(?:on|in|at|with|for|using|via|from|to)\b", lead.group(), _I)
        ) or _starts_like_place(out[start:])
        # A fact that was the subject ("How should a team of 3 run ...") leaves "we".
        subject = not after_preposition and _AUX_BEFORE.search(out[:cut_from])
        if not (after_preposition or subject):
            # An object ("use EKS or run kubeadm") is what is asked about: it stays.
            continue
        tail = _HEAD_NOUN.match(out, end)
        cut_to = tail.end() if tail else end
        filler = " we " if subject else " "
        out = out[:cut_from].rstrip() + filler + out[cut_to:].lstrip()
    if out == sentence:
        return sentence
    out = re.sub(r"\s+([,?.!])(?=\s|$)", r"\1", out)
    out = re.sub(r"\b(and|or)\s*([,?.!]|$)", r"\2", out)
    out = re.sub(r",\s*,", ",", out)
    return " ".join(out.split())


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _starts_like_place(text: str) -> bool:
    return bool(re.match(r"^(on[- ]prem|at the edge|in (our|the|a)\b|on\b|in\b|at\b)", text, _I))


def _ask(text: str) -> str:
    text = " ".join(text.split()).rstrip(" ?.!,")
    return _upper_first(text) + "?" if text else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    # Keep acronyms and names ("AKS", "GKE", "Windows") as they are.
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (first.isupper() or first[1:].lower() != first[1:]):
        return text
    return text[:1].lower() + text[1:]


def without_retracted(question: str, retracted: PlanningProfile | None) -> str:
    """``question`` without the words that state a fact the user retracted (an inferred
    fact removed in the UI): "Should we run our own control plane? We are on AWS." with
    AWS retracted becomes "Should we run our own control plane?", so search and the
    engine stop reading the fact from the words. Only fields whose stated value is the
    retracted one are cut; a question that states nothing retracted is returned as is."""
    if retracted is None or retracted.is_empty() or not question.strip():
        return question
    said, gone = read_profile(question).profile.model_dump(), retracted.model_dump()
    fields = set()
    for name in _FIELDS:
        value, out = said[name], gone[name]
        if out in (None, []) or value in (None, []):
            continue
        if (set(value) & set(out)) if isinstance(value, list) else value == out:
            fields.add(name)
    if not fields:
        return question
    base, _ = _without_facts(question, fields)
    return _ask(base) if base else question
