"""Pure helpers of the chat UI: data in, data out, no Streamlit (tested in tests/ui/).

The planning profile is kept in two parts: the *explicit* profile (what the user set in the
form, confirmed from a chip or answered to an open question) is the only one sent to the
engine as ``profile=``; the *inferred* profile is what the last answer read from the
conversation and is only shown. Sending inferred facts back as explicit ones would make them
win over anything the user says later ("and if we have to run on-prem?"). A third part,
the *retracted* facts (inferred facts the user removed from the chips), is sent as
``retracted=`` so the engine stops reading them from the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.chain.export import PROFILE_LABELS, profile_items
from assistant.schemas import Decision, PlanAnswer, PlanningProfile, Recommendation, Source

#: Used when the settings have no ``max_question_chars``.
DEFAULT_MAX_QUESTION_CHARS = 2000

FIELD_LABELS = PROFILE_LABELS
HOSTING = ("aws", "azure", "gcp", "cloud", "on-prem", "edge", "hybrid", "hosting-provider")
WORKLOADS = ("stateless", "stateful", "batch", "gpu", "windows", "arm", "ml", "web")
LEVELS = ("low", "medium", "high")
COMPLIANCE = ("pci", "hipaa", "soc2", "gdpr", "sovereignty", "none")

EXAMPLE_QUESTIONS = (
    "Should we run our own control plane or use a managed service?",
    "How many etcd members should we run?",
    "We're a 4-person team on AWS: how do we cut the bill for stateless web and batch jobs?",
    "Argo CD or Flux for GitOps?",
    "How should we isolate tenants that handle card payments?",
)


def max_question_chars(settings: Any) -> int:
    """The question length limit: ``settings.max_question_chars`` when the settings have it."""
    value = getattr(settings, "max_question_chars", None)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_QUESTION_CHARS


def question_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be asked, or None."""
    if not text.strip():
        return "The question is empty: type a planning question."
    if len(text) > limit:
        return (
            f"The question has {len(text):,} characters; the limit is {limit:,}. "
            "Shorten it to the situation and the decision you face."
        )
    return None


# --------------------------------------------------------------------------- profile


def set_fields(profile: PlanningProfile) -> list[str]:
    """Names of the fields ``profile`` sets, in the schema's order."""
    return [k for k, v in profile.model_dump().items() if v not in (None, [])]


def without_fields(profile: PlanningProfile, names: Iterable[str]) -> PlanningProfile:
    """``profile`` with ``names`` unset."""
    defaults = PlanningProfile().model_dump()
    return profile.model_copy(update={n: defaults[n] for n in names})


def only_fields(profile: PlanningProfile, names: Iterable[str]) -> PlanningProfile:
    keep = set(names)
    return without_fields(profile, [n for n in PlanningProfile.model_fields if n not in keep])


def explicit_to_send(explicit: PlanningProfile, stated: PlanningProfile) -> PlanningProfile:
    """The explicit profile for a question that itself states ``stated``: what the user says
    now wins over what they set earlier, so those fields are left to the conversation."""
    return without_fields(explicit, set_fields(stated))


def retract_fact(
    retracted: PlanningProfile, inferred: PlanningProfile, name: str
) -> PlanningProfile:
    """The facts the user retracted, with the inferred value of ``name`` added (the user
    removed that inferred fact: it no longer holds)."""
    value = getattr(inferred, name)
    if value in (None, []):
        return retracted
    if isinstance(value, list):
        value = list(dict.fromkeys([*getattr(retracted, name), *value]))
    return retracted.model_copy(update={name: value})


def retracted_to_send(retracted: PlanningProfile, stated: PlanningProfile) -> PlanningProfile:
    """The retractions for a new question that itself states ``stated``: a fact said again
    now holds again, so the retraction of those fields ends."""
    return without_fields(retracted, set_fields(stated))


def inferred_profile(answer: PlanAnswer, explicit: PlanningProfile) -> PlanningProfile:
    """What the answer read from the conversation, apart from the explicit profile.

    Uses ``answer.meta.inferred_profile`` when the engine reports it; otherwise the profile
    used minus the fields the explicit profile set.
    """
    reported = getattr(answer.meta, "inferred_profile", None)
    # AnswerMeta always has the field; only a value the API actually set is a report
    # (an empty one included): a default one says nothing about the conversation.
    fields_set = getattr(answer.meta, "model_fields_set", None)
    is_report = fields_set is None or "inferred_profile" in fields_set
    if isinstance(reported, PlanningProfile) and is_report:
        return without_fields(reported, set_fields(explicit))
    return without_fields(answer.profile, set_fields(explicit))


@dataclass(frozen=True)
class Chip:
    """One fact in use, shown above the chat."""

    field: str
    label: str
    value: str
    inferred: bool

    @property
    def text(self) -> str:
        return f"{self.label}: {self.value}" + (" (inferred)" if self.inferred else "")


def _shown(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def profile_chips(explicit: PlanningProfile, inferred: PlanningProfile) -> list[Chip]:
    """Explicit facts, then inferred facts the explicit profile does not set."""
    chips = []
    exp, inf = explicit.model_dump(), inferred.model_dump()
    for name, label in FIELD_LABELS.items():
        if exp[name] not in (None, []):
            chips.append(Chip(name, label, _shown(exp[name]), inferred=False))
        elif inf[name] not in (None, []):
            chips.append(Chip(name, label, _shown(inf[name]), inferred=True))
    return chips


def ruled_out_chips(
    answer: PlanAnswer, removed: PlanningProfile | None = None
) -> list[Chip]:
    """Facts the conversation ruled out ("not on AWS"), when the engine reports them in
    ``answer.meta.negated_profile``; shown, never sent. Those the user removed (the fields
    ``removed`` sets) are not marked inferred: the user said so."""
    negated = getattr(answer.meta, "negated_profile", None)
    if not isinstance(negated, PlanningProfile):
        return []
    data = negated.model_dump()
    theirs = set(set_fields(removed)) if removed is not None else set()
    return [
        Chip(name, label, "not " + _shown(data[name]), inferred=name not in theirs)
        for name, label in FIELD_LABELS.items()
        if data[name] not in (None, [])
    ]


def confirm_fact(
    explicit: PlanningProfile, inferred: PlanningProfile, name: str
) -> PlanningProfile:
    """The explicit profile with the inferred value of ``name`` moved into it."""
    return explicit.model_copy(update={name: getattr(inferred, name)})


def used_profile(explicit: PlanningProfile, inferred: PlanningProfile) -> PlanningProfile:
    """What the form shows: explicit facts over inferred ones."""
    data = inferred.model_dump()
    data.update({n: getattr(explicit, n) for n in set_fields(explicit)})
    return PlanningProfile.model_validate(data)


def form_edits(
    shown: PlanningProfile, submitted: PlanningProfile, explicit: PlanningProfile
) -> PlanningProfile:
    """The explicit profile after a form that showed ``shown`` came back as ``submitted``:
    only the fields the user changed become explicit, so facts the form merely displayed stay
    inferred and a later turn can still change them."""
    data = explicit.model_dump()
    old, new = shown.model_dump(), submitted.model_dump()
    for name in PlanningProfile.model_fields:
        if new[name] != old[name]:
            data[name] = new[name]
    return PlanningProfile.model_validate(data)


def profile_changes(answer: PlanAnswer, previous: PlanningProfile | None) -> list[str]:
    """What changed in the facts against the previous answer, for people.

    ``answer.meta.profile_changes`` when the engine reports them, else a comparison of the
    profiles used."""
    reported = getattr(answer.meta, "profile_changes", None)
    if reported:
        return [str(getattr(c, "message", c)) for c in reported]
    if previous is None:
        return []
    return compared_profiles(previous, answer.profile)


def compared_profiles(previous: PlanningProfile, current: PlanningProfile) -> list[str]:
    """The facts that differ between two profiles, for people (a re-plan says what its
    new facts changed against the answer it replaces)."""
    changes = []
    before, after = previous.model_dump(), current.model_dump()
    for name, label in FIELD_LABELS.items():
        if before[name] == after[name]:
            continue
        if before[name] in (None, []):
            changes.append(f"{label}: now {_shown(after[name])}")
        elif after[name] in (None, []):
            changes.append(f"{label}: {_shown(before[name])} no longer applies")
        else:
            changes.append(f"{label} changed from {_shown(before[name])} to {_shown(after[name])}")
    return changes


def profile_text(profile: PlanningProfile) -> str:
    items = profile_items(profile)
    return "; ".join(f"{k}: {v}" for k, v in items) if items else "no facts"


def replan_note(explicit: PlanningProfile, retracted: PlanningProfile) -> str:
    """What a re-plan used: the facts the user set and those they removed."""
    parts = []
    if not explicit.is_empty():
        parts.append("with the facts you set: " + profile_text(explicit))
    elif retracted.is_empty():
        # The facts read from the conversation still apply (the chips show them).
        parts.append("with no facts set by you; those read from the conversation apply")
    if not retracted.is_empty():
        parts.append("without the facts you removed: " + profile_text(retracted))
    return "Re-planned " + "; ".join(parts)


#: How many of the latest answers a conversation draws whole; earlier ones are folded
#: (summary and card titles, a button to unfold), because every rerun redraws the whole
#: conversation in the browser and a long one made each new answer slower to appear.
FULL_ANSWERS = 2


def folded(roles: Sequence[tuple[str, bool]], expanded: Iterable[int] = ()) -> set[int]:
    """Indexes of the answers to fold: ``roles`` holds each message's role and whether it
    was superseded; the last ``FULL_ANSWERS`` current answers and those in ``expanded``
    stay whole (superseded ones are drawn folded their own way)."""
    current = [i for i, (role, old) in enumerate(roles) if role == "assistant" and not old]
    keep = set(current[-FULL_ANSWERS:]) | set(expanded)
    return {i for i in current if i not in keep}


# --------------------------------------------------------------------------- open questions


@dataclass(frozen=True)
class OpenQuestionForm:
    """How the user answers an open question: a choice for a profile field, else text."""

    question: str
    field: str | None = None
    options: tuple[str, ...] = ()
    multiple: bool = False

    @property
    def is_choice(self) -> bool:
        return self.field is not None


# Profile dimension of the engine's open questions -> (profile field, options, multiple).
_DIMENSION_FIELDS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "hosting": ("hosting", HOSTING, True),
    "workloads": ("workloads", WORKLOADS, True),
    "experience": ("k8s_experience", LEVELS, False),
    "budget": ("budget_sensitivity", LEVELS, False),
    "compliance": ("compliance", COMPLIANCE, True),
    "isolation": ("isolation", LEVELS, False),
    "availability": ("availability", LEVELS, False),
    "team": ("team_size", (), False),
}


def open_question_form(question: str, dimension_questions: Mapping[str, str]) -> OpenQuestionForm:
    """The answer form for ``question``; ``dimension_questions`` maps each of the engine's
    profile dimensions to the question text it asks for it."""
    for dimension, text in dimension_questions.items():
        if text == question and dimension in _DIMENSION_FIELDS:
            name, options, multiple = _DIMENSION_FIELDS[dimension]
            return OpenQuestionForm(question, name, options, multiple)
    return OpenQuestionForm(question)


def answer_open_question(
    explicit: PlanningProfile, name: str, value: str | int | list[str]
) -> PlanningProfile:
    """The explicit profile with the user's answer to an open question about ``name``.

    A compliance answer of "none" records that no regime applies (an empty list)."""
    if name == "compliance" and isinstance(value, list):
        value = [v for v in value if v != "none"]
    if name == "team_size":
        size = int(value) if isinstance(value, int | str) and str(value).strip() else 0
        return explicit.model_copy(update={name: size or None})
    return PlanningProfile.model_validate({**explicit.model_dump(), name: value})


def open_question_statement(question: str, reply: str) -> str:
    """A free-text answer to an open question, as the user's next chat message."""
    return f"{reply.strip()} (answering: {question.strip()})"


# --------------------------------------------------------------------------- answers

_PROFILE_NOTE = re.compile(r"\s*\(Planning profile used: [^)]*\)\.?")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d)]?(?=\s|$)")


def summary_text(answer: PlanAnswer) -> str:
    """The engine's summary without the verbatim copy of the first card (shown below) and
    without the profile note (the fact chips show the profile)."""
    first = answer.recommendations[0] if answer.recommendations else None
    return summary_lead(answer.summary, first)


def summary_lead(summary: str, first: Recommendation | None) -> str:
    """``summary_text`` from the summary and the first card (None: not known yet, as while
    an answer streams in)."""
    text = _PROFILE_NOTE.sub("", summary).strip()
    if first is not None:
        verbatim = f"{first.title}: {first.recommendation}"
        if verbatim in text:
            text = text.replace(verbatim, f"Start with \u201c{first.title}\u201d.", 1)
    return text or summary


def whole_sentences(text: str) -> str:
    """``text`` without a trailing sentence cut short ("…"), so each line reads whole."""
    flat = " ".join(text.split())
    if not flat.endswith("…"):
        return flat
    ends = [m.end() for m in _SENTENCE_END.finditer(flat[:-1])]
    if not ends:
        return flat
    return flat[: ends[-1]].strip()


@dataclass
class MergedSource:
    """One entry of the sources list: the passages of one page section, merged."""

    number: int
    title: str
    section: str
    path: str
    url: str | None
    text: str
    ids: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"[{self.number}] {self.title}" + (f" — {self.section}" if self.section else "")


def _join_overlapping(first: str, second: str, min_overlap: int = 20) -> str:
    """``first`` and ``second`` joined where the end of one repeats the start of the other."""
    a, b = first.rstrip("…").rstrip(), second.rstrip()
    if b in a:
        return a
    if a in b:
        return b
    for size in range(min(len(a), len(b)), min_overlap - 1, -1):
        if a.endswith(b[:size]):
            return a + b[size:]
    return f"{a} … {b}"


def merge_sources(sources: Sequence[Source]) -> tuple[list[MergedSource], dict[str, int]]:
    """Passages of the same page and section (overlapping chunks) as one numbered entry.

    Returns the entries in first-seen order and each source id's entry number."""
    merged: list[MergedSource] = []
    by_key: dict[tuple[str, str | None, str], MergedSource] = {}
    numbers: dict[str, int] = {}
    for source in sources:
        key = (source.path, source.url, source.section)
        entry = by_key.get(key)
        if entry is None:
            entry = MergedSource(
                number=len(merged) + 1,
                title=source.title,
                section=source.section,
                path=source.path,
                url=source.url,
                text=" ".join(source.snippet.split()),
            )
            by_key[key] = entry
            merged.append(entry)
        else:
            entry.text = _join_overlapping(entry.text, " ".join(source.snippet.split()))
        entry.ids.append(source.id)
        numbers[source.id] = entry.number
    return merged, numbers


def cited_numbers(rec: Recommendation, numbers: Mapping[str, int]) -> list[int]:
    """The entry numbers a card cites, each once, in citation order."""
    return list(dict.fromkeys(numbers[c] for c in rec.citations if c in numbers))


def other_documents(
    retrieved: Sequence[Source], cited: Iterable[str], limit: int = 3
) -> list[Source]:
    """Retrieved passages from documents outside the decision catalogue (uploads and other
    ingested documents) that the answer's cards do not cite: the catalogue-driven engine
    cannot cite them, so the answer lists them as further evidence."""
    skip = set(cited)
    found = [s for s in retrieved if not s.decision_ids and s.id not in skip and s.score > 0]
    return found[:limit]


def group_by_topic(recs: Sequence[Recommendation]) -> list[tuple[str, list[int]]]:
    """Card indexes grouped by topic (the decision id's prefix), topics in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(recs):
        groups.setdefault(rec.decision_id.split(".", 1)[0], []).append(i)
    return list(groups.items())


_VERSUS = re.compile(r"\b(vs\.?|versus|or|compared? (to|with)|instead of)\b", re.IGNORECASE)


def comparison_rows(
    question: str, recs: Sequence[Recommendation], catalogue: Mapping[str, Decision]
) -> list[dict[str, str]]:
    """Rows of a comparison table when a "X vs Y" question got several alternatives of one
    topic (decisions that name each other as alternatives); else no rows."""
    if not _VERSUS.search(question) or len(recs) < 2:
        return []
    ids = [r.decision_id for r in recs]
    linked: list[str] = []
    for did in ids:
        decision = catalogue.get(did)
        rivals = set(decision.alternatives) if decision else set()
        rivals |= {o for o in ids if (d := catalogue.get(o)) and did in d.alternatives}
        if rivals & (set(ids) - {did}):
            linked.append(did)
    if len(linked) < 2:
        return []
    rows = []
    for rec in recs:
        if rec.decision_id not in linked:
            continue
        decision = catalogue.get(rec.decision_id)
        rows.append(
            {
                "option": rec.title,
                "what to do": rec.recommendation,
                "fits when": "; ".join(decision.when) if decision else "",
                "avoid when": "; ".join(decision.avoid_when) if decision else "",
                "trade-offs": "; ".join(rec.tradeoffs),
                "confidence": rec.confidence,
            }
        )
    return rows


def hide_paths(text: str, paths: Iterable[str]) -> str:
    """``text`` with server folders replaced by a neutral word (no server paths in the page)."""
    for path in sorted({p for p in paths if p and len(p) > 1}, key=len, reverse=True):
        text = text.replace(path, "the server's data folder")
    return text
