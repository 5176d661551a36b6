"""Facts read from one message: the planning-profile facts it states, those it negates,
and where it states them. Pure functions; the patterns are data here because they are
code-like (regular expressions), and every one is exercised by
``tests/understanding/test_profile.py``.

Negation scope comes from ``negation.py``; look-alike phrases ("ARM templates",
"cutting-edge") are masked per field before that field's patterns run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from assistant.schemas import PlanningProfile
from assistant.understanding.negation import (
    Scope,
    asked_spans,
    is_negated,
    negating_kinds,
    negation_scopes,
    split_negated,
)

_I = re.IGNORECASE
_ALL_FIELDS = tuple(PlanningProfile.model_fields)

_HOSTING: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "aws",
        re.compile(
            # Managed data services (RDS, Cosmos DB, Cloud SQL) say where data lives, not
            # where the clusters run, so they are not here.
            r"\b(aws|amazon|eks|ec2|s3|graviton|fargate|bottlerocket|irsa|ecr|cloudwatch|"
            r"route ?53)\b",
            _I,
        ),
    ),
    ("azure", re.compile(r"\b(azure|aks|entra|key vault|acr)\b", _I)),
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
_GENERIC_CLOUD = re.compile(
    r"\b(public cloud|in the cloud|cloud providers?|hyperscalers?)\b", _I
)
_MULTICLOUD_WORD = re.compile(r"\bmulti-?cloud\b", _I)

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
_OPS_ROLE = (
    r"(platform|ops|devops|infra(structure)?|sre|sres|operations|cluster|kubernetes|k8s|"
    r"cloud)"
)
_PEOPLE = (
    r"(engineers?|people|persons?|folks|staff|members?|admins?|administrators|operators|"
    r"sres?|devops|ops)"
)
#: Most specific first: people who run the platform, a team's size, then people in general.
_TEAM_PATTERNS = (
    re.compile(
        rf"\b(?P<n>{_NUM})[- ]((experienced|senior|dedicated|full[- ]time|skilled) )?"
        rf"{_OPS_ROLE}[- ]{_PEOPLE}\b",
        _I,
    ),
    re.compile(rf"\b(?P<n>{_NUM})[- ](sres|sre|admins?|administrators|devops engineers)\b", _I),
    re.compile(
        rf"\b(?P<n>{_NUM}) of (us|them) (will |would |are going to )?(run|operate|manage|"
        rf"maintain|look after|own|support)\b",
        _I,
    ),
    re.compile(rf"\b{_OPS_ROLE} team (of|is|has) (?P<n>{_NUM})\b", _I),
    re.compile(
        rf"\b(?P<n>{_NUM})[- ](person|people|engineer|member|man)[- ]({_OPS_ROLE} )?team\b", _I
    ),
    re.compile(rf"\bteam of (?P<n>{_NUM})\b", _I),
    re.compile(rf"\bteam (is|has) (?P<n>{_NUM})\b", _I),
    re.compile(rf"\b(only |just )?(?P<n>{_NUM}) of us\b", _I),
    re.compile(
        rf"\b(?P<n>{_NUM})[- ](full[- ]time )?(engineers?|people|persons?|folks|staff|devs|"
        rf"developers)\b",
        _I,
    ),
)
#: Product developers are not the people who run the platform ("15 developers").
_PRODUCT_ROLE = re.compile(
    r"\b(devs|developers?|programmers|coders|software|backend|frontend|front-end|back-end|"
    r"full[- ]?stack|product|application|app|data scientists?|feature)\b",
    _I,
)
_PRODUCT_BEFORE = re.compile(
    r"\b(product|development|dev|feature|application|app|software|engineering org\w*)"
    r"( teams?)?\s*$",
    _I,
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
            r"(learning|just started with) (kubernetes|k8s)|junior team|newbies?|"
            r"without (much |any )?(kubernetes |k8s )?(experience|expertise))\b",
            _I,
        ),
    ),
    (
        "high",
        re.compile(
            r"\b(experienced (with |in )?(kubernetes|k8s)|(kubernetes|k8s) experts?|"
            r"deep (kubernetes |k8s )?(experience|expertise)|years of (kubernetes|k8s)|"
            r"strong (kubernetes|k8s) (skills|experience)|(kubernetes|k8s) veterans?|"
            r"cka|(seasoned|experienced|senior) (platform |sre |ops |devops |infra(structure)? )?"
            r"(team|engineers|sres)|"
            r"(run|ran|running|operated|operating|used|using|managed|managing) (kubernetes|k8s|it)"
            r"( [\w-]+){0,4}? (for|over) (\d+|two|three|four|five|six|seven|eight|nine|ten|many|"
            r"several) years)\b",
            _I,
        ),
    ),
    (
        "medium",
        re.compile(r"\b(some|moderate|basic) (kubernetes |k8s )?(experience|knowledge)\b", _I),
    ),
)

#: Having run Kubernetes at all: said, it settles nothing; only said of nobody ("none of us
#: has operated a cluster", "nobody here has Kubernetes experience") it reads as low.
_EXPERIENCE_CLAIM = re.compile(
    r"\b((kubernetes|k8s) (experience|expertise|skills|knowledge)|"
    r"(run|ran|operated|managed|used|worked with|touched) (kubernetes|k8s|(a |any )?"
    r"(kubernetes |k8s )?clusters?)|much (kubernetes |k8s )?(experience|expertise))\b",
    _I,
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
REGULATED = {"pci", "hipaa", "sox", "soc2", "fedramp", "iso27001", "regulated", "bank"}
RESIDENCY = {"gdpr", "data-residency", "sovereignty"}

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
            r"three zones|3 zones|zone (outage|failure)s?|highly available|high availability|ha|"
            r"no downtime|zero[- ]downtime|mission[- ]critical|business[- ]critical|24/7|"
            r"always on|(can't|cannot|can not|must not|mustn't) (ever )?(go|be) down|"
            r"(must|should|can|may) never (go|be) down|"
            r"never goes down|uptime is (all that matters|everything|critical|key|paramount))\b)",
            _I,
        ),
    ),
    (
        "low",
        re.compile(
            r"\b(best[- ]effort|"
            r"downtime( [\w-]+){0,6} (is|are) (fine|ok|okay|acceptable|tolerable)|"
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


#: Phrases whose words look like a fact of a field but are not: Azure Resource Manager
#: templates are not Arm CPUs, a cutting-edge product is not edge hosting. Masked out before
#: that field's patterns run.
_LOOKALIKES: dict[str, re.Pattern[str]] = {
    "workloads": re.compile(
        r"\b(arm[- ]?(templates?|deployments?|json|api|resource manager|and bicep|/bicep|"
        r"format|syntax)|"
        r"azure resource manager|bicep (and|or|/) ?arm|arm'?s[- ]length|an arm and a leg|"
        r"windows (laptops?|desktops?|pcs?|workstations?|clients?|machines)|windows 1[01])\b",
        _I,
    ),
    "hosting": re.compile(
        r"\b((cutting|bleeding|leading|competitive)[- ]edge( cases?)?|an edge over|"
        r"edge[- ]cases?|edge of|microsoft edge|edge browser|edge[- ]triggered|"
        r"edge (routers?|prox(y|ies)|load[- ]balancers?|tls|termination|services? of the cluster)|"
        r"retail bank(s|ing)?|(online|e-?commerce) retail(ers?)?|retail (customers|investors|"
        r"web ?shops?|websites?|apps?)|s3[- ]compatible|"
        r"hybrid (mobile |web |native )?apps?|hybrid work(ing|force)?|hybrid (search|cars?))\b",
        _I,
    ),
}
_CONTRAST = re.compile(r"\b(but|however|though|although|yet|whereas|while)\b", _I)
_AZURE_IAC = re.compile(r"\b(arm templates?|bicep|azure resource manager)\b", _I)


@dataclass(frozen=True)
class Said:
    """A message with its negation scopes, and its text per field with look-alikes masked."""

    text: str
    scopes: list[Scope]
    #: What a question asks whether the user needs ("Do we need a fleet manager?").
    asked: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, text: str, structured: bool = True) -> Said:
        text = text.replace("\u2019", "'")
        return cls(text, negation_scopes(text, structured), tuple(asked_spans(text)))

    def is_asked(self, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in self.asked)

    def masked(self, field: str) -> str:
        pattern = _LOOKALIKES.get(field)
        if pattern is None:
            return self.text
        return pattern.sub(lambda m: " " * len(m.group()), self.text)

    def state(self, pattern: re.Pattern[str], field: str = "") -> bool | None:
        """True: said; False: only said negated; None: not mentioned."""
        matches = [m for m in pattern.finditer(self.masked(field))
                   if not self.is_asked(m.start(), m.end())]
        if not matches:
            return None
        kinds = [negating_kinds(self.scopes, m.start(), m.end()) for m in matches]
        negated = [m for m, k in zip(matches, kinds, strict=True) if k]
        if not negated:
            return True
        if all(k == {"substitution"} for k in kinds if k) and len(negated) < len(matches):
            # "Cilium instead of the AWS VPC CNI on our EKS clusters": what was swapped out
            # is a choice; the situation said elsewhere still holds.
            return True
        # "no stateful workloads - every database is on RDS": a fact taken back stays taken
        # back when the message names it again, unless a contrast brings it back ("no GPUs
        # yet, but GPU training starts next quarter").
        last = negated[-1].end()
        return any(
            m.start() >= last and _CONTRAST.search(self.text, last, m.start())
            for m in matches
            if m not in negated
        )


@dataclass(frozen=True)
class ProfileReading:
    """What one message (or a conversation) says holds, and what it says does not."""

    profile: PlanningProfile
    negated: PlanningProfile


def _listed(
    patterns: Sequence[tuple[str, re.Pattern[str]]], said: Said, field: str
) -> tuple[list[str], list[str]]:
    present: list[str] = []
    absent: list[str] = []
    for value, pattern in patterns:
        state = said.state(pattern, field)
        if state is True:
            present.append(value)
        elif state is False:
            absent.append(value)
    return present, absent


def _level(
    patterns: Sequence[tuple[str, re.Pattern[str]]], said: Said
) -> tuple[str | None, str | None]:
    """The first level said, and the first level said not to hold."""
    states = [(value, said.state(pattern)) for value, pattern in patterns]
    chosen = next((value for value, state in states if state is True), None)
    negated = next((value for value, state in states if state is False and value != chosen),
                   None)
    return chosen, negated


def _team_size(said: Said) -> tuple[int | None, int | None]:
    """The platform team's size and a size said not to hold.

    Counts of people who run the platform (ops, SREs, platform engineers, "a team of 4")
    beat counts of people in general ("we are 3 engineers"); counts of product developers
    ("15 developers") are not the platform team.
    """
    ranked: list[tuple[int, int, int]] = []  # (rank, position, size)
    negated: int | None = None
    for rank, pattern in enumerate(_TEAM_PATTERNS):
        for match in pattern.finditer(said.text):
            raw = match.group("n").lower()
            size = int(raw) if raw.isdigit() else _NUMBERS.get(raw)
            if not size or not 1 <= size <= 5000:
                continue
            if _PRODUCT_ROLE.search(match.group()) or _PRODUCT_BEFORE.search(
                said.text, max(0, match.start() - 24), match.start()
            ):
                continue
            if is_negated(said.scopes, match.start(), match.end()):
                negated = negated or size
                continue
            ranked.append((rank, match.start(), size))
    if ranked:
        return min(ranked)[2], negated
    if said.state(_SMALL_TEAM):
        # A stated "small team" is recorded as 3 engineers: inside every "small team" range.
        return (1 if re.search(r"\b(solo|just me|one[- ]person)\b", said.text, _I) else 3), negated
    if said.state(_LARGE_TEAM):
        return 15, negated
    return None, negated


def _regions(said: Said) -> tuple[list[str], list[str]]:
    present: list[str] = []
    absent: list[str] = []
    for pattern in (_REGION_CODE, _REGION_NAME):
        for m in pattern.finditer(said.text):
            negated = is_negated(said.scopes, m.start(), m.end())
            (absent if negated else present).append(m.group(1))
    present = list(dict.fromkeys(present))
    return present, [r for r in dict.fromkeys(absent) if r not in present]


def fact_spans(text: str, fields: Iterable[str]) -> list[tuple[int, int]]:
    """Where ``text`` states facts of the profile ``fields`` (character spans, in order), so
    a follow-up that changes a fact can replace its words."""
    said = Said.of(text)
    patterns: dict[str, Sequence[re.Pattern[str]]] = {
        "hosting": [p for _, p in _HOSTING] + [_GENERIC_CLOUD, _AZURE_IAC],
        "workloads": [p for _, p in _WORKLOADS],
        "compliance": [p for _, p in _COMPLIANCE],
        "k8s_experience": [p for _, p in _EXPERIENCE],
        "isolation": [p for _, p in _ISOLATION[:2]],
        "availability": [p for _, p in _AVAILABILITY],
        "budget_sensitivity": [p for _, p in _BUDGET],
        "team_size": [*_TEAM_PATTERNS, _SMALL_TEAM, _LARGE_TEAM],
        "regions": [_REGION_CODE, _REGION_NAME],
    }
    spans: list[tuple[int, int]] = []
    for field in fields:
        for pattern in patterns.get(field, ()):
            spans += [(m.start(), m.end()) for m in pattern.finditer(said.masked(field))]
    return sorted(spans)


def without_negated_facts(text: str, structured: bool = True) -> str:
    """``text`` without the profile facts it negates ("no Windows or GPU nodes", "not on
    AWS", "we are no longer air-gapped"), for search: the profile already records them,
    and their words would find the passages of what the user does not have. Other
    negated words stay: "no cluster-admin" is often what the question is about."""
    said = Said.of(text, structured)
    spans = fact_spans(said.text, _ALL_FIELDS)
    spans += [
        (m.start(), m.end())
        for pattern in (AIRGAP, MULTICLOUD, MANY_CLUSTERS, SINGLE_CLUSTER)
        for m in pattern.finditer(said.text)
    ]
    out = said.text
    for start, end in sorted(set(spans), reverse=True):
        if is_negated(said.scopes, start, end):
            out = out[:start] + " " + out[end:]
    return " ".join(out.split())


def negated_split(text: str, structured: bool = True) -> tuple[str, str]:
    """``text`` without every stretch it negates, and those stretches' words (see
    ``negation.split_negated``), for matching decision cards: "we don't use Vault" is no
    evidence for the Vault card. A negation that is how a profile fact is worded ("no
    downtime", "must never go down") is kept."""
    said = Said.of(text, structured)
    return split_negated(said.text, fact_spans(said.text, _ALL_FIELDS), structured)


@cache
def cloud_services() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Per cloud, a pattern of the managed services only it sells
    (``vocabularies/cloud_services.yaml``)."""
    raw = resources.files("assistant").joinpath("vocabularies/cloud_services.yaml")
    data = yaml.safe_load(raw.read_text(encoding="utf-8")) or {}
    return tuple(
        (str(cloud), re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(str(n)) for n in names) + r")(?![\w-])", _I))
        for cloud, names in data.items() if names
    )


def implied_clouds(said: Said) -> list[str]:
    """Clouds whose own managed services the message says are in use ("every database is
    on RDS" implies AWS). An inference, used only where no hosting is named."""
    return [cloud for cloud, pattern in cloud_services() if said.state(pattern) is True]


def read_profile(
    text: str, infer_services: bool = True, structured: bool = True
) -> ProfileReading:
    """What one message says about the situation, and what it says does not hold.

    Negated facts ("no PCI scope", "not on AWS, we run Azure", "HA is not needed") are left
    out of ``profile`` and reported in ``negated``; a negated high availability target or
    cost focus reads as a low one. A message that names no hosting but a managed service
    only one cloud sells ("our databases are on RDS") is read as hosted on that cloud
    (unless ``infer_services`` is False: the ``cloud-services`` ablation). ``structured``
    False reads negation with its core cues only (the ``negation-structure`` ablation).
    """
    said = Said.of(text, structured)
    hosting, no_hosting = _listed(_HOSTING, said, "hosting")
    if said.state(_AZURE_IAC) and "azure" not in hosting and "azure" not in no_hosting:
        hosting.append("azure")
    if not hosting and infer_services:
        hosting = [c for c in implied_clouds(said) if c not in no_hosting]
    cloud = said.state(_GENERIC_CLOUD)
    if cloud is None:
        cloud = said.state(_MULTICLOUD_WORD)
    if not hosting and cloud:
        hosting = ["cloud"]
    elif cloud is False:
        no_hosting.append("cloud")
    workloads, no_workloads = _listed(_WORKLOADS, said, "workloads")
    compliance, no_compliance = _listed(_COMPLIANCE, said, "compliance")
    team, no_team = _team_size(said)
    experience, no_experience = _level(_EXPERIENCE, said)
    if experience is None and said.state(_EXPERIENCE_CLAIM) is False:
        experience = "low"
    isolation, no_isolation = _level(_ISOLATION, said)
    availability, no_availability = _level(_AVAILABILITY, said)
    if availability is None and no_availability == "high":
        availability = "low"
    budget, no_budget = _level(_BUDGET, said)
    if budget is None and no_budget == "high":
        budget = "low"
    regions, no_regions = _regions(said)
    profile = PlanningProfile.model_validate(
        {
            "hosting": hosting,
            "workloads": workloads,
            "team_size": team,
            "k8s_experience": experience,
            "compliance": compliance,
            "isolation": isolation,
            "availability": availability,
            "budget_sensitivity": budget,
            "regions": regions,
        }
    )
    negated = PlanningProfile.model_validate(
        {
            "hosting": no_hosting,
            "workloads": no_workloads,
            "team_size": no_team if no_team != team else None,
            "k8s_experience": no_experience if no_experience != experience else None,
            "compliance": no_compliance,
            "isolation": no_isolation if no_isolation != isolation else None,
            "availability": no_availability if no_availability != availability else None,
            "budget_sensitivity": no_budget if no_budget != budget else None,
            "regions": no_regions,
        }
    )
    return ProfileReading(profile, negated)


def extract_profile(text: str) -> PlanningProfile:
    """What one message says about the situation; unknown and negated facts stay unset."""
    return read_profile(text).profile


#: What a conversation says that the profile has no field for.
MANY_CLUSTERS = re.compile(
    r"\b(many|multiple|several|dozens of|hundreds of|thousands of|fleet of|lots of|\d{2,}) "
    r"(kubernetes |k8s )?clusters\b|\bfleet\b|\bmulti-?cluster\b|\b([3-9]|\d{2,}) clusters\b",
    _I,
)
SINGLE_CLUSTER = re.compile(
    r"\b(single|one|a single|just one) ((production|prod|shared|main|big) )?(kubernetes |k8s )?"
    r"cluster\b",
    _I,
)
AIRGAP = re.compile(
    r"\b(air[- ]?gapped|disconnected|(no|without) (any )?internet( access| connection"
    r"| connectivity)?|offline sites?)\b", _I)
MULTICLOUD = re.compile(r"\bmulti-?cloud\b|\b(two|several|multiple) cloud providers\b", _I)
