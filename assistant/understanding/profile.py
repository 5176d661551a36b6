"""The planning profile of a conversation: explicit and inferred facts kept apart, later
turns winning field by field, and the profile matched against the shared condition
vocabulary that decision cards use in ``when``/``avoid_when``. Pure functions.

Facts are read from each message by ``facts.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.schemas import PlanningProfile, ProfileChange, Turn
from assistant.understanding.facts import (
    AIRGAP,
    MANY_CLUSTERS,
    MULTICLOUD,
    REGULATED,
    RESIDENCY,
    SINGLE_CLUSTER,
    ProfileReading,
    Said,
    extract_profile,
    fact_spans,
    negated_split,
    read_profile,
    without_negated_facts,
)

__all__ = [
    "ConversationProfile",
    "ProfileReading",
    "conversation_profile",
    "explicit_edits",
    "extract_profile",
    "fact_spans",
    "infer_profile",
    "merge_explicit",
    "negated_items",
    "negated_split",
    "open_question",
    "profile_changes",
    "profile_conditions",
    "profile_from_conversation",
    "read_profile",
    "refuted_conditions",
    "retract",
    "retrieval_expansion",
    "update_profile",
    "vocabulary_terms",
    "without_negated_facts",
]

_I = re.IGNORECASE

_ADDITIVE = re.compile(
    r"\b(also|as well|in addition|additionally|too|both|plus|on top of|alongside)\b", _I
)
_SCALARS = ("team_size", "k8s_experience", "isolation", "availability", "budget_sensitivity")
_LISTS = ("hosting", "workloads", "compliance", "regions")


def update_profile(
    base: PlanningProfile, newer: PlanningProfile | ProfileReading, text: str = ""
) -> PlanningProfile:
    """``base`` updated by a later message.

    A newly named hosting replaces the old one ("what if we run it on-prem?") unless the
    message adds it ("also", "as well", "in addition"); other lists grow; scalars are
    overwritten; facts the message negates are removed.
    """
    reading = newer if isinstance(newer, ProfileReading) else ProfileReading(
        newer, PlanningProfile()
    )
    data = base.model_dump()
    said, negated = reading.profile.model_dump(), reading.negated.model_dump()
    for key in _LISTS:
        kept = [v for v in data[key] if v not in negated[key]]
        if key == "hosting" and said[key] and not _ADDITIVE.search(text):
            kept = []
        data[key] = list(dict.fromkeys([*kept, *said[key]]))
    for key in _SCALARS:
        if said[key] is not None:
            data[key] = said[key]
        elif negated[key] is not None and data[key] == negated[key]:
            data[key] = None
    return PlanningProfile.model_validate(data)


def infer_profile(
    question: str, history: Iterable[Turn] = (), infer_services: bool = True,
    structured: bool = True,
) -> ProfileReading:
    """What the user's turns (oldest first, then ``question``) say, later turns winning
    field by field, and what they say does not hold (unless a later turn says it again)."""
    profile = PlanningProfile()
    negated = PlanningProfile()
    texts = [t.content for t in history if t.role == "user"] + [question]
    for text in texts:
        reading = read_profile(text, infer_services, structured)
        profile = update_profile(profile, reading, text)
        negated = update_profile(negated, ProfileReading(reading.negated, reading.profile), "also")
    # Only what the final profile does not assert stays negated.
    left = negated.model_dump()
    final = profile.model_dump()
    for key in _LISTS:
        left[key] = [v for v in left[key] if v not in final[key]]
    for key in _SCALARS:
        if left[key] == final[key]:
            left[key] = None
    return ProfileReading(profile, PlanningProfile.model_validate(left))


def merge_explicit(inferred: PlanningProfile, explicit: PlanningProfile | None) -> PlanningProfile:
    """The profile an answer uses: every field the explicit profile sets (the UI form,
    ``--profile``, ``ask(profile=...)``) replaces the inferred one; the rest is inferred."""
    if explicit is None:
        return inferred
    given = {k: v for k, v in explicit.model_dump().items() if v not in (None, [])}
    return inferred.model_copy(update=given)


def profile_changes(before: PlanningProfile, after: PlanningProfile) -> list[ProfileChange]:
    """The facts that differ between two profiles, each with a sentence for the UI."""
    changes: list[ProfileChange] = []
    old, new = before.model_dump(), after.model_dump()
    for key in PlanningProfile.model_fields:
        if old[key] == new[key]:
            continue
        label = key.replace("_", " ").capitalize()
        if old[key] in (None, []):
            message = f"{label} set to {_shown(new[key])}"
        elif new[key] in (None, []):
            message = f"{label} no longer set (was {_shown(old[key])})"
        else:
            message = f"{label} changed from {_shown(old[key])} to {_shown(new[key])}"
        changes.append(
            ProfileChange(field=key, before=old[key], after=new[key], message=message)
        )
    return changes


def _shown(value: object) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


@dataclass(frozen=True)
class ConversationProfile:
    """The profiles of one turn: given explicitly, read from the conversation, and used."""

    explicit: PlanningProfile
    inferred: PlanningProfile
    negated: PlanningProfile
    used: PlanningProfile
    changes: list[ProfileChange]


def retract(profile: PlanningProfile, retracted: PlanningProfile | None) -> PlanningProfile:
    """``profile`` without the facts ``retracted`` says no longer hold: its list values are
    removed, and a scalar is unset when it has the retracted value (a different value, said
    later, stays)."""
    if retracted is None or retracted.is_empty():
        return profile
    return update_profile(profile, ProfileReading(PlanningProfile(), retracted))


def _with_retracted(negated: PlanningProfile, retracted: PlanningProfile) -> PlanningProfile:
    data, gone = negated.model_dump(), retracted.model_dump()
    for key in _LISTS:
        data[key] = list(dict.fromkeys([*data[key], *gone[key]]))
    for key in _SCALARS:
        if gone[key] is not None:
            data[key] = gone[key]
    return PlanningProfile.model_validate(data)


def conversation_profile(
    question: str,
    history: Sequence[Turn] = (),
    explicit: PlanningProfile | None = None,
    retracted: PlanningProfile | None = None,
    infer_services: bool = True,
    structured: bool = True,
) -> ConversationProfile:
    """Explicit and inferred profiles kept apart: the inferred one comes from the user's
    turns only, the explicit one wins field by field in ``used``, and ``changes`` lists the
    inferred facts this question changed against the previous user turn.

    ``retracted`` holds facts the user said no longer hold (e.g. an inferred fact removed
    in the UI): they leave the inferred profile, whatever turn said them, and join
    ``negated``. The explicit profile still wins over a retraction. ``infer_services``
    False reads no hosting from managed services (the ``cloud-services`` ablation);
    ``structured`` False reads negation by its core cues only (``negation-structure``)."""
    reading = infer_profile(question, history, infer_services, structured)
    inferred = retract(reading.profile, retracted)
    users = [i for i, t in enumerate(history) if t.role == "user"]
    changes: list[ProfileChange] = []
    if users:
        last = users[-1]
        before = infer_profile(
            history[last].content, history[:last], infer_services, structured
        ).profile
        changes = profile_changes(retract(before, retracted), inferred)
    given = explicit or PlanningProfile()
    negated = reading.negated
    if retracted is not None and not retracted.is_empty():
        negated = _with_retracted(negated, retracted)
    return ConversationProfile(
        explicit=given,
        inferred=inferred,
        negated=negated,
        used=merge_explicit(inferred, explicit),
        changes=changes,
    )


def explicit_edits(
    shown: PlanningProfile, submitted: PlanningProfile, previous: PlanningProfile | None = None
) -> PlanningProfile:
    """The explicit profile after a form that showed ``shown`` came back as ``submitted``.

    Only the fields the user changed become explicit (with those already explicit), so the
    facts the form merely displayed stay inferred and a later turn can still change them.
    """
    data = (previous or PlanningProfile()).model_dump()
    old, new = shown.model_dump(), submitted.model_dump()
    for key in PlanningProfile.model_fields:
        if new[key] != old[key]:
            data[key] = new[key]
    return PlanningProfile.model_validate(data)


def negated_items(negated: PlanningProfile) -> list[str]:
    """The facts a conversation ruled out, as short phrases ("not hosting aws")."""
    items: list[str] = []
    for key, value in negated.model_dump().items():
        if value in (None, []):
            continue
        label = key.replace("_", " ")
        items.append(f"{label}: not {_shown(value)}" if isinstance(value, list) else
                     f"{label}: not {value}")
    return items


def profile_from_conversation(
    question: str,
    history: Iterable[Turn] = (),
    explicit: PlanningProfile | None = None,
) -> PlanningProfile:
    """The profile said in the user's turns (oldest first, then ``question``); explicit wins
    field by field."""
    return merge_explicit(infer_profile(question, history).profile, explicit)


# --------------------------------------------------------------------------- conditions

#: The shared condition vocabulary of decision cards, grouped by what settles each.
VOCABULARY: dict[str, str] = {
    "small team": "team",
    "large platform team": "team",
    "low kubernetes experience": "experience",
    "high kubernetes experience": "experience",
    "cost-sensitive": "budget",
    "regulated (pci, hipaa, soc 2)": "compliance",
    "data residency": "residency",
    "strong isolation": "isolation",
    "high availability target": "availability",
    "best-effort availability": "availability",
    "aws": "hosting",
    "azure": "hosting",
    "gcp": "hosting",
    "public cloud": "hosting",
    "on-prem": "hosting",
    "edge sites": "hosting",
    "hybrid": "hosting",
    "hosting provider": "hosting",
    "multi-cloud": "hosting",
    "stateless workloads": "workloads",
    "stateful workloads": "workloads",
    "batch jobs": "workloads",
    "gpu workloads": "workloads",
    "windows workloads": "workloads",
    "arm nodes": "workloads",
    "many clusters": "clusters",
    "single cluster": "clusters",
    "air-gapped": "airgap",
}

_ALIASES: dict[str, str] = {
    "regulated": "regulated (pci, hipaa, soc 2)",
    "on-premises": "on-prem",
    "on prem": "on-prem",
    "edge": "edge sites",
    "air gapped": "air-gapped",
    "airgapped": "air-gapped",
    "multi cloud": "multi-cloud",
}

# Words that name a vocabulary condition inside free text, e.g. a YAML flow list that split
# "regulated (PCI, HIPAA, SOC 2)" at its commas.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("regulated", "regulated (pci, hipaa, soc 2)"),
    ("pci", "regulated (pci, hipaa, soc 2)"),
    ("hipaa", "regulated (pci, hipaa, soc 2)"),
    ("soc 2", "regulated (pci, hipaa, soc 2)"),
    ("on-premises", "on-prem"),
    ("bare metal", "on-prem"),
    ("air-gapped", "air-gapped"),
    ("edge", "edge sites"),
)

#: How each vocabulary condition is shown in a rationale.
DISPLAY: dict[str, str] = {
    "low kubernetes experience": "low Kubernetes experience",
    "high kubernetes experience": "high Kubernetes experience",
    "regulated (pci, hipaa, soc 2)": "regulated (PCI, HIPAA, SOC 2)",
    "aws": "AWS",
    "azure": "Azure",
    "gcp": "GCP",
    "gpu workloads": "GPU workloads",
    "windows workloads": "Windows workloads",
    "arm nodes": "Arm nodes",
}


def display(term: str) -> str:
    return DISPLAY.get(term, term)



_CLOUDS = {"aws", "azure", "gcp"}


def profile_conditions(
    profile: PlanningProfile, text: str = "", structured: bool = True
) -> dict[str, bool | None]:
    """Each vocabulary condition: True (holds), False (the profile rules it out), None (unknown).

    ``text`` (the question and the user's earlier turns) settles what the profile has no
    field for: many clusters or one, air-gapped, multi-cloud.
    """
    c: dict[str, bool | None] = dict.fromkeys(VOCABULARY)
    if profile.team_size is not None:
        c["small team"] = profile.team_size <= 5
        c["large platform team"] = profile.team_size >= 10
    if profile.k8s_experience is not None:
        c["low kubernetes experience"] = profile.k8s_experience == "low"
        c["high kubernetes experience"] = profile.k8s_experience == "high"
    if profile.budget_sensitivity is not None:
        c["cost-sensitive"] = profile.budget_sensitivity in ("high", "medium")
    compliance = {x.lower() for x in profile.compliance}
    if compliance & REGULATED:
        c["regulated (pci, hipaa, soc 2)"] = True
    if compliance & RESIDENCY:
        c["data residency"] = True
    if profile.isolation is not None:
        c["strong isolation"] = profile.isolation == "high"
    if profile.availability == "high":
        c["high availability target"], c["best-effort availability"] = True, False
    elif profile.availability == "low":
        c["high availability target"], c["best-effort availability"] = False, True
    hosting = set(profile.hosting)
    if hosting:
        c["aws"] = "aws" in hosting
        c["azure"] = "azure" in hosting
        c["gcp"] = "gcp" in hosting
        c["public cloud"] = bool(hosting & (_CLOUDS | {"cloud"}))
        c["on-prem"] = "on-prem" in hosting
        c["edge sites"] = "edge" in hosting
        c["hybrid"] = "hybrid" in hosting or (
            bool(hosting & (_CLOUDS | {"cloud"})) and bool(hosting & {"on-prem", "edge"})
        )
        c["hosting provider"] = "hosting-provider" in hosting
        c["multi-cloud"] = len(hosting & _CLOUDS) >= 2
    _negated_conditions(
        c, read_profile(text, structured=structured).negated if text else PlanningProfile()
    )
    said = Said.of(text, structured)
    multicloud = said.state(MULTICLOUD)
    if multicloud:
        c["multi-cloud"] = True
        c["public cloud"] = True
    elif multicloud is False:
        c["multi-cloud"] = False
    workloads = set(profile.workloads)
    kinds = {
        "stateless workloads": {"stateless", "web"},
        "stateful workloads": {"stateful"},
        "batch jobs": {"batch"},
        "gpu workloads": {"gpu", "ml"},
        "windows workloads": {"windows"},
        "arm nodes": {"arm"},
    }
    for condition, names in kinds.items():
        if workloads:
            # Named workloads settle the question; the kinds not named do not apply.
            c[condition] = bool(workloads & names)
    if said.state(SINGLE_CLUSTER):
        c["single cluster"], c["many clusters"] = True, False
    if said.state(MANY_CLUSTERS) or ("edge" in hosting and c["single cluster"] is not True):
        c["many clusters"], c["single cluster"] = True, False
    airgap = said.state(AIRGAP)
    if airgap or any(AIRGAP.search(x) for x in profile.compliance):
        c["air-gapped"] = True
    elif airgap is False:
        c["air-gapped"] = False
    return c


#: Negated profile values and the conditions they rule out ("no stores or factories"
#: rules out edge sites; "we no longer have Windows apps" rules out Windows workloads).
_NEGATED_CONDITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("hosting", "edge"): ("edge sites",),
    ("hosting", "on-prem"): ("on-prem",),
    ("hosting", "aws"): ("aws",),
    ("hosting", "azure"): ("azure",),
    ("hosting", "gcp"): ("gcp",),
    ("hosting", "cloud"): ("public cloud",),
    ("hosting", "hybrid"): ("hybrid",),
    ("workloads", "stateful"): ("stateful workloads",),
    ("workloads", "batch"): ("batch jobs",),
    ("workloads", "gpu"): ("gpu workloads",),
    ("workloads", "windows"): ("windows workloads",),
    ("workloads", "arm"): ("arm nodes",),
    ("compliance", "regulated"): ("regulated (pci, hipaa, soc 2)",),
    ("compliance", "gdpr"): ("data residency",),
    ("compliance", "data-residency"): ("data residency",),
}


def refuted_conditions(text: str, structured: bool = True) -> frozenset[str]:
    """The conditions ``text`` itself rules out: the facts it negates or says have ended
    ("no stores or factories", "no longer air-gapped") and the opposite of what it states
    ("one production cluster" rules out many clusters). Unlike ``profile_conditions`` no
    condition is false merely because another value was named."""
    if not text:
        return frozenset()
    found: set[str] = set()
    negated = read_profile(text, structured=structured).negated.model_dump()
    for (key, value), conditions in _NEGATED_CONDITIONS.items():
        if value in (negated.get(key) or []):
            found.update(conditions)
    said = Said.of(text, structured)
    if said.state(AIRGAP) is False:
        found.add("air-gapped")
    if said.state(MULTICLOUD) is False:
        found.add("multi-cloud")
    single, many = said.state(SINGLE_CLUSTER), said.state(MANY_CLUSTERS)
    if single and not many:
        found.add("many clusters")
    if many and not single:
        found.add("single cluster")
    return frozenset(found)


def _negated_conditions(c: dict[str, bool | None], negated: PlanningProfile) -> None:
    """Conditions the user said do not hold, where the profile left them unknown."""
    data = negated.model_dump()
    for (key, value), conditions in _NEGATED_CONDITIONS.items():
        if value in (data.get(key) or []):
            for condition in conditions:
                if c.get(condition) is None:
                    c[condition] = False


def vocabulary_terms(condition: str) -> list[str]:
    """The vocabulary terms a card's free-text condition names ('small team without SREs'
    names 'small team')."""
    return list(_vocabulary_terms(condition))


@lru_cache(maxsize=4096)
def _vocabulary_terms(condition: str) -> tuple[str, ...]:
    text = condition.strip().lower()
    text = _ALIASES.get(text, text)
    if text in VOCABULARY:
        return (text,)
    found = []
    for term in VOCABULARY:
        if len(term) <= 3:
            # Short terms ('aws', 'gcp') only as whole words.
            if re.search(rf"(?<![a-z0-9-]){re.escape(term)}(?![a-z0-9-])", text):
                found.append(term)
        elif term in text:
            found.append(term)
    for word, term in _MARKERS:
        if term not in found and re.search(rf"(?<![a-z0-9]){word}(?![a-z0-9])", text):
            found.append(term)
    if not found:
        for alias, term in _ALIASES.items():
            if re.search(rf"(?<![a-z0-9-]){re.escape(alias)}(?![a-z0-9-])", text):
                found.append(term)
    return tuple(dict.fromkeys(found))


_QUESTIONS: dict[str, str] = {
    "team": "How many engineers will run the platform?",
    "experience": "How much Kubernetes experience does the team have?",
    "budget": "How much does cost drive the decision?",
    "compliance": "Is the environment regulated (PCI, HIPAA, SOC 2 or similar)?",
    "residency": "Must data stay in a particular country or region?",
    "isolation": "How strongly must tenants or teams be isolated from each other?",
    "availability": "What availability target do the workloads have (best effort, 99.9%, 99.99%)?",
    "hosting": "Where will the clusters run: AWS, Azure, GCP, your own data center, edge sites?",
    "workloads": "Which kinds of workloads will run: stateless, stateful, batch, GPU, Windows?",
    "clusters": "Will you run one cluster or many?",
    "airgap": "Must the clusters work without internet access (air-gapped)?",
}


def open_question(dimension: str) -> str:
    return _QUESTIONS[dimension]


_EXPANSION: dict[str, str] = {
    "aws": "AWS EKS",
    "azure": "Azure AKS",
    "gcp": "GCP GKE",
    "on-prem": "on-prem bare metal",
    "edge": "edge sites",
    "hybrid": "hybrid",
    "hosting-provider": "hosting provider",
    "stateless": "stateless",
    "web": "stateless",
    "stateful": "stateful",
    "batch": "batch jobs",
    "gpu": "GPU",
    "ml": "GPU",
    "windows": "Windows",
    "arm": "Arm",
}


def retrieval_expansion(profile: PlanningProfile, question: str) -> str:
    """Words for what the profile says and the question does not (hosting, workload kinds),
    so search also finds the passages a what-if profile calls for."""
    from assistant.index.keyword import tokenize

    present = set(tokenize(question))
    words: list[str] = []
    for value in [*profile.hosting, *profile.workloads]:
        phrase = _EXPANSION.get(value)
        if phrase and not set(tokenize(phrase)) & present:
            words.append(phrase)
    if profile.budget_sensitivity == "high" and not {"cost", "cheap", "cheaper"} & present:
        words.append("cost")
    return " ".join(dict.fromkeys(words))
