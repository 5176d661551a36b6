"""Eval cases: pydantic models for ``evals/cases.yaml`` and retrieval sets, and their loading.

Answer cases name *corpus document ids* (front matter ``id``) in ``expect_sources``;
retrieval sets name *document paths* of the form ``<root>/<path under root>`` where
``<root>`` is the base name of the folder that was ingested (see ``evals/README.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.errors import InputError
from assistant.schemas import TOPICS, PlanningProfile, Status, Turn

_SLUG = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"

Split = Literal["dev", "heldout"]
SPLITS: tuple[Split, ...] = ("dev", "heldout")
SUITES: tuple[str, ...] = ("main", "paraphrases", "negation", "declines", "false-refusals",
                           "multi-aspect")
"""Suites with a metric of their own; other suite names load and get the headline metrics."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Case(_Strict):
    """One planning question with what a good answer must (and must not) contain."""

    id: str = Field(pattern=_SLUG, description="Unique, stable case id.")
    question: str = Field(min_length=1)
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    profile: PlanningProfile | None = Field(default=None, description="Explicit planning profile.")
    expect_status: Status = "answered"
    must: list[list[str]] = Field(
        default_factory=list,
        description="Groups of decision ids; a group passes when any of its ids is recommended.",
    )
    must_not: list[str] = Field(
        default_factory=list, description="Decision ids that must not be recommended."
    )
    expect_sources: list[str] = Field(
        default_factory=list,
        description="Corpus document ids (front matter `id`) that should be retrieved and cited.",
    )
    tags: list[str] = Field(default_factory=list)
    variant_of: str | None = Field(
        default=None,
        description="Paraphrase suites: the id of the case this one rewrites; variants of one "
        "case should recommend the same `must` decisions.",
    )
    expect_profile: dict[str, Any] = Field(
        default_factory=dict,
        description="Profile fields the answer's profile must hold (list fields: these values "
        "among others; scalar fields: exactly this value).",
    )
    forbid_profile: dict[str, Any] = Field(
        default_factory=dict,
        description="Profile values the answer's profile must not hold (list fields: none of "
        "these values; scalar fields: any value but these).",
    )

    split: Split = Field(
        default="dev",
        description="Set by the loader from the file's top-level `split` (dev | heldout).",
    )
    suite: str = Field(
        default="main",
        description="Set by the loader from the file's top-level `suite` (main when absent).",
    )

    @field_validator("expect_profile", "forbid_profile")
    @classmethod
    def _known_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - set(PlanningProfile.model_fields)
        if unknown:
            known = sorted(PlanningProfile.model_fields)
            raise ValueError(f"unknown profile fields {sorted(unknown)}; use {known}")
        return value

    @field_validator("must")
    @classmethod
    def _no_empty_group(cls, value: list[list[str]]) -> list[list[str]]:
        if any(not group for group in value):
            raise ValueError("a `must` group is empty; drop it or list at least one decision id")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        wanted = {d for group in self.must for d in group}
        clash = wanted & set(self.must_not)
        if clash:
            raise ValueError(f"decision ids both in must and must_not: {sorted(clash)}")
        if self.expect_status != "answered" and self.must:
            raise ValueError("only cases expecting status `answered` can list `must` groups")
        return self

    @property
    def topics(self) -> list[str]:
        """Tags that are knowledge-base topics."""
        return [t for t in self.tags if t in TOPICS]

    def decision_ids(self) -> set[str]:
        return {d for group in self.must for d in group} | set(self.must_not)

    def must_ids(self) -> set[str]:
        return {d for group in self.must for d in group}


class RetrievalCase(_Strict):
    """A question and the documents a good retriever returns for it."""

    id: str = Field(pattern=_SLUG)
    question: str = Field(min_length=1)
    expect: list[str] = Field(
        min_length=1, description="Expected documents as `<root>/<path under root>`."
    )
    tags: list[str] = Field(default_factory=list)


class RetrievalSet(_Strict):
    """A named set of retrieval questions over one or more ingested roots."""

    name: str = Field(pattern=_SLUG)
    description: str = ""
    roots: list[str] = Field(
        default_factory=list,
        description="Base names of the folders the expected paths start with.",
    )
    cases: list[RetrievalCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_and_rooted(self) -> RetrievalSet:
        check_unique(c.id for c in self.cases)
        if self.roots:
            for case in self.cases:
                for path in case.expect:
                    if path.split("/", 1)[0] not in self.roots:
                        raise ValueError(
                            f"case {case.id}: {path!r} does not start with one of the roots "
                            f"{self.roots}"
                        )
        return self


def check_unique(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for case_id in ids:
        if case_id in seen:
            raise ValueError(f"case id {case_id!r} is used twice")
        seen.add(case_id)


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"eval file {path} does not exist.", "pass an existing YAML file.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}", "fix the YAML syntax.") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]
    )


def parse_cases(data: Any, source: str = "cases") -> list[Case]:
    """Validate cases given as a list or as ``{"cases": [...]}``; ``InputError`` on problems."""
    raw = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise InputError(
            f"{source} holds no cases.",
            "write a YAML list of cases (or a mapping with a `cases:` list).",
        )
    cases = []
    for i, item in enumerate(raw):
        try:
            cases.append(Case.model_validate(item))
        except ValidationError as exc:
            name = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
            raise InputError(
                f"{source}: case {name} is invalid: {_problems(exc)}",
                "correct those fields (see evals/README.md for the format).",
            ) from exc
    try:
        check_unique(c.id for c in cases)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}", "give every case its own id.") from exc
    return cases


def load_cases(path: Path) -> list[Case]:
    """Read and validate an answer-case file (YAML or JSON)."""
    return parse_cases(read_yaml(path), str(path))


def load_retrieval_set(path: Path) -> RetrievalSet:
    """Read and validate a retrieval set (YAML or JSON)."""
    data = read_yaml(path)
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    try:
        return RetrievalSet.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            f"{path}: invalid retrieval set: {_problems(exc)}",
            "correct those fields (see evals/README.md for the format).",
        ) from exc


def unknown_references(
    cases: Iterable[Case], decision_ids: set[str], document_ids: set[str]
) -> list[str]:
    """Decision and document ids that cases name but the catalogue lacks, one line each."""
    problems = []
    for case in cases:
        for d in sorted(case.decision_ids() - decision_ids):
            problems.append(f"{case.id}: unknown decision id {d}")
        for doc in case.expect_sources:
            if doc not in document_ids:
                problems.append(f"{case.id}: unknown corpus document {doc}")
    return problems
