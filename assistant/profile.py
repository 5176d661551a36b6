"""The planning profile: read deterministically from what the user says, and matched
against the shared condition vocabulary that decision cards use in ``when``/``avoid_when``.

Pure functions only; the patterns are data in this module because they are code-like
(regular expressions), and every one is exercised by ``tests/test_profile.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from .schemas import PlanningProfile, Turn

_I = re.IGNORECASE

_HOSTING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws", re.compile(r"\b(aws|amazon|eks|ec2|s3|graviton|fargate|bottlerocket|irsa)\b", _I)),
    ("azure", re.compile(r"\b(azure|aks|entra|key vault)\b", _I)),
    ("gcp", re.compile(r"\b(gcp|gke|google cloud|anthos)\b", _I)),
    (
        "on-prem",
        re.compile(
            r"\b(on[- ]?prem(ise|ises)?|in[- ]house hardware|(own|our) (data ?cent(er|re)s?|"
            r"hardware|servers|racks)|data ?cent(er|re)s?|bare[- ]?metal|vmware|vsphere|"
            r"openstack|proxmox)\b",
            _I,
        ),
    ),
    (
        "edge",
        re.compile(
            r"\b(edge|retail|factor(y|ies)|branch(es| offices?)|remote sites?|"
            r"(\d+|hundreds of|thousands of|many|dozens of) (stores|shops|sites|locations|"
            r"restaurants|vessels|ships|trucks)|(retail|grocery|our|the) stores|"
            r"shop floors?|iot)\b",
            _I,
        ),
    ),
    ("hybrid", re.compile(r"\bhybrid\b", _I)),
    (
        "hosting-provider",
        re.compile(
            r"\b(hosting (provider|company|partner)|hetzner|ovh(cloud)?|colocation|colo|"
            r"managed hosting|digitalocean|linode|akamai cloud|scaleway)\b",
            _I,
        ),
    ),
)
_GENERIC_CLOUD = re.compile(r"\b(public cloud|in the cloud|cloud provider|hyperscaler)\b", _I)

_WORKLOADS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stateless", re.compile(r"\b(stateless|microservices?)\b", _I)),
    (
        "web",
        re.compile(
            r"\b(web ?(apps?|applications?|sites?|services?|front ?ends?|shop)|websites?|"
            r"(rest|http|grpc|public|json) apis?)\b",
            _I,
        ),
    ),
    (
        "stateful",
        re.compile(
            r"\b(stateful|databases?|dbs?|postgres(ql)?|mysql|mariadb|mongo(db)?|kafka|redis|"
            r"cassandra|elasticsearch|opensearch|rabbitmq|persistent (volumes?|storage|data)|"
            r"storage-heavy)\b",
            _I,
        ),
    ),
    (
        "batch",
        re.compile(
            r"\b(batch|cron ?jobs?|etl|data processing|data pipelines?|nightly (jobs?|runs?)|"
            r"render(ing)?|simulations?|job queues?|ci (jobs|runners|builds))\b",
            _I,
        ),
    ),
    ("gpu", re.compile(r"\b(gpus?|cuda|nvidia|a100|h100|accelerators?)\b", _I)),
    (
        "ml",
        re.compile(
            r"\b(ml|machine learning|deep learning|ai|llms?|model (training|serving)|"
            r"inference|training jobs?)\b",
            _I,
        ),
    ),
    ("windows", re.compile(r"\b(windows|\.net framework|iis|asp\.net)\b", _I)),
    ("arm", re.compile(r"\b(arm64|arm|aarch64|graviton|ampere|raspberry pis?)\b", _I)),
)

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a dozen": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "fifty": 50, "a hundred": 100,
}
_NUM = r"(\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a dozen|" \
    r"fifteen|twenty|thirty|fifty|a hundred)"
_PEOPLE = (
    r"(platform |ops |devops |infra(structure)? |sre |backend |software |full[- ]time )?"
    r"(engineers?|people|devs|developers|sres?|admins?|administrators|persons?|folks|"
    r"ops people|staff)"
)
_TEAM_PATTERNS = (
    re.compile(rf"\b{_NUM}[- ]{_PEOPLE}\b", _I),
    re.compile(rf"\b{_NUM}[- ](person|people|engineer|member|man)[- ]team\b", _I),
    re.compile(rf"\bteam of {_NUM}\b", _I),
    re.compile(rf"\bteam (is|has) {_NUM}\b", _I),
)
_SMALL_TEAM = re.compile(
    r"\b(small|tiny|lean|two-pizza) (platform |ops |devops |infra |engineering )?team\b|"
    r"\b(solo|just me|one[- ]person|only one (engineer|person|admin))\b",
    _I,
)
_LARGE_TEAM = re.compile(
    r"\b(large|big|dedicated|mature) (platform|ops|sre|infrastructure) team\b", _I
)

_EXPERIENCE: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "low",
        re.compile(
            r"\b(new to (kubernetes|k8s|containers)|no (prior )?(kubernetes|k8s) experience|"
            r"(little|limited|no|minimal) (kubernetes |k8s |container )?(experience|expertise|"
            r"knowledge)|never (used|run|ran|operated) (kubernetes|k8s)|beginners?|"
            r"first (kubernetes )?cluster|not (kubernetes|k8s) experts|"
            r"(learning|just started with) (kubernetes|k8s)|junior team|newbies?)\b",
            _I,
        ),
    ),
    (
        "high",
        re.compile(
            r"\b(experienced (with |in )?(kubernetes|k8s)|(kubernetes|k8s) experts?|"
            r"deep (kubernetes |k8s )?(experience|expertise)|years of (kubernetes|k8s)|"
            r"strong (kubernetes|k8s) (skills|experience)|(kubernetes|k8s) veterans?|"
            r"cka|seasoned (platform )?(team|engineers))\b",
            _I,
        ),
    ),
    (
        "medium",
        re.compile(r"\b(some|moderate|basic) (kubernetes |k8s )?(experience|knowledge)\b", _I),
    ),
)

_COMPLIANCE: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "pci",
        re.compile(
            r"\b(pci([- ]?dss)?|card ?holder data|card data|payment cards?|credit cards?)\b", _I
        ),
    ),
    ("hipaa", re.compile(r"\b(hipaa|phi|patient data|health ?care data|medical records)\b", _I)),
    ("gdpr", re.compile(r"\bgdpr\b", _I)),
    ("sox", re.compile(r"\b(sox|sarbanes[- ]oxley)\b", _I)),
    ("soc2", re.compile(r"\bsoc ?2\b", _I)),
    ("fedramp", re.compile(r"\b(fedramp|fisma|il[4-6])\b", _I)),
    ("iso27001", re.compile(r"\biso ?27001\b", _I)),
    (
        "regulated",
        re.compile(
            r"\b(regulated|regulators?|regulatory|compliance (requirements?|rules|regime)|"
            r"auditors?|audited)\b",
            _I,
        ),
    ),
    (
        "bank",
        re.compile(
            r"\b(banks?|banking|financial (services|institution)|fintech|insurer|insurance "
            r"company|payments? (company|provider|processor))\b",
            _I,
        ),
    ),
    (
        "data-residency",
        re.compile(
            r"\b(data residency|residency|sovereign(ty)?|data (must|has to|needs to) (stay|remain)|"
            r"(must|has to) stay in (the )?(eu|country|region))\b",
            _I,
        ),
    ),
)
_REGULATED = {"pci", "hipaa", "sox", "soc2", "fedramp", "iso27001", "regulated", "bank"}
_RESIDENCY = {"gdpr", "data-residency", "sovereignty"}

_ISOLATION: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "high",
        re.compile(
            r"\b((strong|strict|hard|full|complete) (tenant |workload |network )?isolation|"
            r"untrusted (tenants?|code|workloads?|customers?)|hostile (tenants?|multi-tenancy)|"
            r"isolat(e|ion|ed) (between |from )?(customers|tenants|each customer)|"
            r"(customer|tenant)s? must not see each other|noisy neighbou?rs?|blast radius)\b",
            _I,
        ),
    ),
    (
        "low",
        re.compile(
            r"\b(soft (multi-tenancy|isolation)|trusted (teams|tenants)|light isolation|"
            r"isolation (is not|isn't) (a concern|important))\b",
            _I,
        ),
    ),
    ("medium", re.compile(r"\b(isolation|isolate|multi-?tenan(t|cy))\b", _I)),
)

_AVAILABILITY: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "high",
        re.compile(
            r"(99\.9[5-9]|99\.99|\b(multi-?zone|multi-?az|multiple (availability )?zones|"
            r"three zones|3 zones|zone (outage|failure)s?|highly available|high availability|"
            r"no downtime|zero[- ]downtime|mission[- ]critical|business[- ]critical|24/7|"
            r"always on|can't go down|cannot go down)\b)",
            _I,
        ),
    ),
    (
        "low",
        re.compile(
            r"\b(best[- ]effort|downtime is (fine|ok|okay|acceptable)|"
            r"can tolerate (some )?downtime|"
            r"non-critical|not critical|dev(elopment)? (only|cluster|environment)|"
            r"(a few )?hours of downtime|lab|homelab|proof of concept|poc)\b",
            _I,
        ),
    ),
    ("medium", re.compile(r"(99\.9(?![0-9])|\b99\.5)", _I)),
)

_BUDGET: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "low",
        re.compile(
            r"\b(money is no (object|issue)|budget is not a concern|cost (is|does) not matter|"
            r"cost is secondary)\b",
            _I,
        ),
    ),
    (
        "high",
        re.compile(
            r"\b(cheap(est|er|ly)?|costs?|budgets?|save money|sav(e|ing|ings) on|"
            r"cost[- ](sensitive|conscious|effective|efficient)|frugal|expensive|bills?|"
            r"spend(ing)?|afford|low[- ]cost|inexpensive|cut(ting)? (our )?cloud costs?)\b",
            _I,
        ),
    ),
)

_REGION_CODE = re.compile(
    r"\b([a-z]{2}-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)"
    r"(?:-?\d)?|(?:east|west|north|south|central)(?:us|europe|asia)\d?|"
    r"(?:europe|us|asia)-(?:west|east|north|south|central|northeast|southeast)\d)\b"
)
_REGION_NAME = re.compile(
    r"\b(EU|US|UK|APAC|EMEA|LATAM|Europe|North America|Asia|Germany|France|Switzerland|"
    r"India|Australia|Canada|Japan|Singapore|Brazil)\b"
)


def _first(patterns: Sequence[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    for value, pattern in patterns:
        if pattern.search(text):
            return value
    return None


def _all(patterns: Sequence[tuple[str, re.Pattern[str]]], text: str) -> list[str]:
    return [value for value, pattern in patterns if pattern.search(text)]


def _team_size(text: str) -> int | None:
    for pattern in _TEAM_PATTERNS:
        match = pattern.search(text)
        if match:
            raw = match.group(1).lower()
            size = int(raw) if raw.isdigit() else _NUMBERS.get(raw)
            if size and 1 <= size <= 5000:
                return size
    if _SMALL_TEAM.search(text):
        # A stated "small team" is recorded as 3 engineers: inside every "small team" range.
        return 1 if re.search(r"\b(solo|just me|one[- ]person)\b", text, _I) else 3
    if _LARGE_TEAM.search(text):
        return 15
    return None


def extract_profile(text: str) -> PlanningProfile:
    """What one message says about the situation; unknown facts stay unset."""
    hosting = _all(_HOSTING, text)
    if not hosting and _GENERIC_CLOUD.search(text):
        hosting = ["cloud"]
    if re.search(r"\bmulti-?cloud\b", text, _I) and not hosting:
        hosting = ["cloud"]
    regions = list(
        dict.fromkeys(
            [m.group(1) for m in _REGION_CODE.finditer(text)]
            + [m.group(1) for m in _REGION_NAME.finditer(text)]
        )
    )
    data: dict[str, Any] = {
        "hosting": hosting,
        "workloads": _all(_WORKLOADS, text),
        "team_size": _team_size(text),
        "k8s_experience": _first(_EXPERIENCE, text),
        "compliance": _all(_COMPLIANCE, text),
        "isolation": _first(_ISOLATION, text),
        "availability": _first(_AVAILABILITY, text),
        "budget_sensitivity": _first(_BUDGET, text),
        "regions": regions,
    }
    return PlanningProfile.model_validate(data)


def update_profile(base: PlanningProfile, newer: PlanningProfile) -> PlanningProfile:
    """``base`` updated by a later message: a newly named hosting replaces the old one
    ("what if we run it on-prem?"), other lists grow, scalars are overwritten."""
    merged = base.merged(newer)
    if newer.hosting:
        merged = merged.model_copy(update={"hosting": list(newer.hosting)})
    return merged


def profile_from_conversation(
    question: str,
    history: Iterable[Turn] = (),
    explicit: PlanningProfile | None = None,
) -> PlanningProfile:
    """The profile said in the user's turns (oldest first, then ``question``); explicit wins."""
    profile = PlanningProfile()
    for turn in history:
        if turn.role == "user":
            profile = update_profile(profile, extract_profile(turn.content))
    profile = update_profile(profile, extract_profile(question))
    if explicit is not None and not explicit.is_empty():
        profile = update_profile(profile, explicit)
        # Explicit scalars and lists replace what was inferred, not only extend it.
        explicit_set = {
            k: v for k, v in explicit.model_dump().items() if v not in (None, [])
        }
        profile = profile.model_copy(update=explicit_set)
    return profile


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


_MANY_CLUSTERS = re.compile(
    r"\b(many|multiple|several|dozens of|hundreds of|thousands of|fleet of|lots of|\d{2,}) "
    r"(kubernetes |k8s )?clusters\b|\bfleet\b|\bmulti-?cluster\b|\b([3-9]|\d{2,}) clusters\b",
    _I,
)
_SINGLE_CLUSTER = re.compile(r"\b(single|one|a single|just one) (kubernetes |k8s )?cluster\b", _I)
_AIRGAP = re.compile(r"\b(air[- ]?gapped|disconnected|no internet( access)?|offline sites?)\b", _I)
_MULTICLOUD = re.compile(r"\bmulti-?cloud\b|\b(two|several|multiple) cloud providers\b", _I)

_CLOUDS = {"aws", "azure", "gcp"}


def profile_conditions(profile: PlanningProfile, text: str = "") -> dict[str, bool | None]:
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
    if compliance & _REGULATED:
        c["regulated (pci, hipaa, soc 2)"] = True
    if compliance & _RESIDENCY:
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
    if _MULTICLOUD.search(text):
        c["multi-cloud"] = True
        c["public cloud"] = True
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
    if _SINGLE_CLUSTER.search(text):
        c["single cluster"], c["many clusters"] = True, False
    if _MANY_CLUSTERS.search(text) or ("edge" in hosting and c["single cluster"] is not True):
        c["many clusters"], c["single cluster"] = True, False
    if _AIRGAP.search(text) or any(_AIRGAP.search(x) for x in profile.compliance):
        c["air-gapped"] = True
    return c


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
    from .keyword import tokenize

    present = set(tokenize(question))
    words: list[str] = []
    for value in [*profile.hosting, *profile.workloads]:
        phrase = _EXPANSION.get(value)
        if phrase and not set(tokenize(phrase)) & present:
            words.append(phrase)
    if profile.budget_sensitivity == "high" and not {"cost", "cheap", "cheaper"} & present:
        words.append("cost")
    return " ".join(dict.fromkeys(words))
