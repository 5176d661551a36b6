"""kubeplan's data: strict pydantic models shared by every stage.

Public answer models (``PlanAnswer``, ``Recommendation``, ``Source``,
``PlanningProfile``) are the contract of the Python API, the CLI's ``--json``,
the chat UI and the eval harness. ``kubeplan schema`` prints their JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

# --------------------------------------------------------------------------- corpus

Topic = Literal[
    "platform",
    "capacity",
    "hosting",
    "nodes",
    "edge",
    "runtime",
    "registry",
    "secrets",
    "availability",
    "tenancy",
    "multicluster",
    "networking",
    "ingress",
    "access",
    "identity",
    "config",
    "gitops",
    "observability",
    "security",
    "workloads",
]

TOPICS: tuple[str, ...] = get_args(Topic)
"""Planning topics of the curated knowledge base; each is a folder under ``corpus/``."""

_DECISION_ID = re.compile(r"^[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceLink(Strict):
    """A public, authoritative page that supports a document or decision."""

    title: str = Field(min_length=3, description="Title of the page.")
    url: str = Field(pattern=r"^https://", description="Address of the page (https).")


class Decision(Strict):
    """One entry of the decision catalogue: a choice a platform team makes."""

    id: str = Field(description="`topic.slug`, unique across the corpus.")
    title: str = Field(min_length=5, description="Short name of the decision.")
    recommendation: str = Field(min_length=20, description="What to do, in one or two sentences.")
    when: list[str] = Field(min_length=1, description="Conditions under which it fits.")
    avoid_when: list[str] = Field(default_factory=list, description="Conditions that rule it out.")
    tradeoffs: list[str] = Field(min_length=1, description="What it costs or risks.")
    alternatives: list[str] = Field(
        default_factory=list, description="Ids of competing decisions in the catalogue."
    )
    sources: list[str] = Field(min_length=1, description="URLs that support it.")
    asked_as: list[str] = Field(
        default_factory=list,
        description="Optional: ways people phrase the need, written from the card's own content.",
    )
    topic: str = Field(default="", description="Filled from the id's prefix.")
    doc_id: str = Field(default="", description="The document that carries the decision.")

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _DECISION_ID.match(value):
            raise ValueError(f"decision id {value!r} is not of the form topic.slug-words")
        return value

    @field_validator("sources")
    @classmethod
    def _https(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith("https://"):
                raise ValueError(f"decision source {url!r} is not an https URL")
        return value


class CorpusFrontMatter(Strict):
    """Front matter of a curated corpus document."""

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", description="Document id (slug).")
    title: str = Field(min_length=5)
    topic: Topic
    summary: str = Field(min_length=20)
    applies_to: str | list[str] = Field(description="Kubernetes versions, or 'any'.")
    reviewed: dt.date
    sources: list[SourceLink] = Field(min_length=1)
    decisions: list[Decision] = Field(default_factory=list)


# --------------------------------------------------------------------------- ingestion


class Section(Strict):
    """A run of text under one heading path, as a loader produced it."""

    heading_path: list[str] = Field(default_factory=list)
    text: str


class LoadedDocument(Strict):
    """A file turned into text sections plus metadata. No I/O happens past this point."""

    path: str = Field(description="Path relative to the ingested root, with forward slashes.")
    root: str = Field(
        description="The ingested root folder (absolute when loaded; stored chunks carry "
        "its name only, so ids do not depend on where the checkout lives)."
    )
    title: str
    url: str | None = None
    topic: str | None = None
    doc_id: str | None = None
    decision_ids: list[str] = Field(default_factory=list)
    decision_titles: dict[str, str] = Field(
        default_factory=dict, description="Decision title -> id, to tie sections to decisions."
    )
    decision_sources: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Decision id -> its source URLs, so a section cites its decision's page.",
    )
    sections: list[Section]
    file_hash: str = Field(description="sha256 of the file's bytes.")
    warnings: list[str] = Field(default_factory=list)


class Chunk(Strict):
    """A passage to embed and store."""

    id: str = Field(description="Stable id: hash of (collection, path, heading path, ordinal) "
                    "plus a content hash.")
    text: str
    collection: str
    path: str
    root: str = ""
    title: str
    heading_path: list[str] = Field(default_factory=list)
    ordinal: int = 0
    content_hash: str
    file_hash: str = ""
    url: str | None = Field(
        default=None,
        description="Upstream page behind the passage: its decision's own source for a curated "
        "section, else the document's.",
    )
    topic: str | None = None
    doc_id: str | None = None
    decision_ids: list[str] = Field(
        default_factory=list,
        description="Decisions this passage explains (its section's decision, else the "
        "document's decisions).",
    )
    tokens: int = 0
    flags: list[str] = Field(
        default_factory=list,
        description="Warnings about the passage, e.g. 'instruction-like' (it addresses an "
        "assistant with orders).",
    )


class ScoredChunk(Strict):
    """A chunk with its similarity score from one retriever (higher is better)."""

    chunk: Chunk
    score: float


class FileIssue(Strict):
    """A file that ingest skipped, failed on, or warned about."""

    path: str
    reason: str


class IngestReport(Strict):
    """What an ingest run did."""

    collection: str
    roots: list[str]
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    files_skipped: list[FileIssue] = Field(default_factory=list)
    files_failed: list[FileIssue] = Field(default_factory=list)
    warnings: list[FileIssue] = Field(default_factory=list)
    chunks_added: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    chunks_embedded: int = 0
    secrets_redacted: int = Field(
        default=0, description="Credentials replaced by [REDACTED ...] before storing."
    )
    chunks_flagged: int = Field(
        default=0, description="Passages stored with the 'instruction-like' flag."
    )
    chunks_reused: int = Field(
        default=0,
        description="Of chunks_embedded, those whose vector needed no model call: the same "
        "text earlier in the run, or a stored chunk with the same content.",
    )
    seconds: float = 0.0
    rebuilt: bool = False
    #: Where a damaged store was moved before this rebuild (``None``: nothing was moved).
    moved_aside: str | None = None

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0


class CollectionStats(Strict):
    """What ``kubeplan stats`` shows."""

    collection: str
    chunks: int
    sources: int
    topics: dict[str, int] = Field(default_factory=dict)
    last_ingest: dt.datetime | None = None
    location: str


# --------------------------------------------------------------------------- answers

Confidence = Literal["high", "medium", "low"]
Status = Literal["answered", "insufficient_evidence", "out_of_scope"]


class Source(Strict):
    """A retrieved passage that an answer may cite."""

    id: str = Field(description="The chunk id.")
    title: str = Field(description="Title of the document the passage comes from.")
    section: str = Field(default="", description="Heading path, joined with ' > '.")
    path: str = Field(description="Path relative to its ingested root.")
    url: str | None = Field(default=None, description="Upstream URL, when known.")
    snippet: str = Field(description="The passage text (possibly shortened).")
    score: float = Field(description="Retrieval score after fusion (higher is better).")
    topic: str | None = Field(default=None, description="Topic of the document, when known.")
    decision_ids: list[str] = Field(
        default_factory=list, description="Catalogue decisions the passage explains."
    )
    flags: list[str] = Field(
        default_factory=list,
        description="Warnings about the passage: 'instruction-like' when it reads like "
        "orders to an assistant (treat it with suspicion).",
    )


class Recommendation(Strict):
    """One recommended decision, grounded in cited passages."""

    decision_id: str = Field(description="Id of the decision in the catalogue.")
    title: str = Field(description="Title of the decision.")
    recommendation: str = Field(description="What to do.")
    rationale: str = Field(description="Why, for this question's situation.")
    tradeoffs: list[str] = Field(default_factory=list, description="What it costs or risks.")
    confidence: Confidence = Field(description="How strongly the evidence supports it.")
    probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The fitted model's probability that this decision is called for (grounded).",
    )
    citations: list[str] = Field(
        min_length=1, description="Ids of entries in the answer's `sources`; never empty."
    )


HostingKind = Literal[
    "aws", "azure", "gcp", "cloud", "on-prem", "edge", "hybrid", "hosting-provider"
]
WorkloadKind = Literal["stateless", "stateful", "batch", "gpu", "windows", "arm", "ml", "web"]
Level = Literal["low", "medium", "high"]


class PlanningProfile(Strict):
    """What kubeplan knows about the team and its situation; it changes the advice."""

    hosting: list[HostingKind] = Field(
        default_factory=list,
        description="Where clusters run: cloud provider, on-prem, edge, hybrid.",
    )
    workloads: list[WorkloadKind] = Field(
        default_factory=list, description="Kinds of workloads the clusters carry."
    )
    team_size: int | None = Field(default=None, ge=1, description="Engineers running the platform.")
    k8s_experience: Level | None = Field(
        default=None, description="The team's Kubernetes experience."
    )
    compliance: list[str] = Field(
        default_factory=list,
        description="Regimes or needs: pci, hipaa, gdpr, sovereignty, ...",
    )
    isolation: Level | None = Field(
        default=None, description="How strong tenant isolation must be."
    )
    availability: Level | None = Field(
        default=None,
        description="Availability target: low (best effort) to high (multi-zone, 99.95%+).",
    )
    budget_sensitivity: Level | None = Field(
        default=None, description="How much cost drives the decision."
    )
    regions: list[str] = Field(default_factory=list, description="Regions or sites.")

    def is_empty(self) -> bool:
        return self == PlanningProfile()

    def merged(self, other: PlanningProfile) -> PlanningProfile:
        """This profile updated with what ``other`` sets (lists are unioned)."""
        data = self.model_dump()
        for key, value in other.model_dump().items():
            if isinstance(value, list):
                data[key] = list(dict.fromkeys([*data[key], *value]))
            elif value is not None:
                data[key] = value
        return PlanningProfile.model_validate(data)


ProfileValue = int | str | list[str] | None


class ProfileChange(Strict):
    """One planning-profile fact that changed between two turns of a conversation."""

    field: str = Field(description="The PlanningProfile field, e.g. hosting.")
    before: ProfileValue = Field(default=None, description="Its value before.")
    after: ProfileValue = Field(default=None, description="Its value now.")
    message: str = Field(description="What changed, for people: 'Hosting changed from azure "
                         "to on-prem'.")


class Timings(Strict):
    """Milliseconds spent in each stage."""

    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0


class AnswerMeta(Strict):
    """Bookkeeping of how an answer was produced."""

    standalone_question: str | None = Field(
        default=None, description="The question after resolving follow-ups against history."
    )
    repaired: bool = Field(default=False, description="An LLM answer needed a repair round.")
    dropped: list[str] = Field(
        default_factory=list, description="Recommendations dropped by validation, with reasons."
    )
    model: str | None = Field(default=None, description="provider:model of an LLM backend.")
    explicit_profile: PlanningProfile = Field(
        default_factory=PlanningProfile,
        description="The profile given explicitly (UI form, --profile, ask(profile=...)).",
    )
    inferred_profile: PlanningProfile = Field(
        default_factory=PlanningProfile,
        description="The profile read from the conversation (later turns win field by field).",
    )
    negated_profile: PlanningProfile = Field(
        default_factory=PlanningProfile,
        description="Facts the conversation says do not hold ('no PCI', 'not on AWS'); a "
        "level here is the level ruled out.",
    )
    profile_changes: list[ProfileChange] = Field(
        default_factory=list,
        description="Inferred facts that changed against the previous user turn.",
    )
    withheld: list[str] = Field(
        default_factory=list,
        description="Retrieved passages kept from the backend because they read like "
        "instructions to an assistant (flag 'instruction-like'), as 'path: section'.",
    )


class PlanAnswer(Strict):
    """kubeplan's answer to one planning question."""

    question: str = Field(description="The question as asked.")
    status: Status = Field(description="answered, insufficient_evidence or out_of_scope.")
    summary: str = Field(description="A short answer in prose.")
    recommendations: list[Recommendation] = Field(default_factory=list)
    open_questions: list[str] = Field(
        default_factory=list,
        description="What the user could tell us that would change the advice.",
    )
    sources: list[Source] = Field(default_factory=list, description="Each cited passage once.")
    profile: PlanningProfile = Field(default_factory=PlanningProfile)
    backend: str = Field(description="Backend that produced the answer.")
    timings: Timings = Field(default_factory=Timings)
    meta: AnswerMeta = Field(default_factory=AnswerMeta)


class Turn(Strict):
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


class AnswerEvent(Strict):
    """One event of ``Assistant.stream``: retrieval results, text tokens, then the answer."""

    kind: Literal["sources", "token", "answer", "error"]
    text: str = ""
    sources: list[Source] = Field(default_factory=list)
    answer: PlanAnswer | None = None


Embedding = Annotated[list[float], Field(min_length=1)]
