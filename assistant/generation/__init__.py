"""Answer backends: turn a question plus retrieved passages into a ``PlanAnswer``.

``grounded`` (offline, deterministic) and ``llm`` (any LangChain chat model) share the
``Generator`` protocol and the ``GenerationRequest`` they receive. LangChain types never
leave this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from assistant.config import Settings
from assistant.errors import BackendError
from assistant.ingest.catalogue import Catalogue
from assistant.retrieval.cards import CardIndex
from assistant.retrieval.passages import Passage
from assistant.schemas import AnswerEvent, AnswerMeta, PlanAnswer, PlanningProfile, Source, Turn
from assistant.understanding.scope import SCOPE_SUMMARY

BACKENDS = ("grounded", "llm")


def matching_text(request: GenerationRequest) -> str:
    return request.search_question or request.standalone_question


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs; built by ``Assistant`` after retrieval."""

    question: str
    standalone_question: str
    profile: PlanningProfile
    passages: tuple[Passage, ...]
    catalogue: Catalogue
    history: tuple[Turn, ...] = ()
    #: The user's words in this conversation; settles conditions the profile has no field for.
    context_text: str = ""
    #: The standalone question without the facts it negates (what search used).
    search_question: str = ""
    #: Fetches the section passages of decisions whose cards match the question but that
    #: search did not surface; ``None`` when the caller has no store at hand.
    lookup: Callable[[Sequence[str]], list[Passage]] | None = None
    #: The decision cards as retrieval units (``assistant.cards.CardIndex``).
    cards: CardIndex | None = None
    #: Embeds a short text (aspects, options, off-corpus sentences) like the question.
    embed: Callable[[str], Any] | None = None
    #: The text retrieval embedded (question and profile words); scored as the
    #: whole question's text against the cards.
    query_text: str = ""
    #: Whether a (stemmed) term occurs anywhere in the knowledge base.
    known: Callable[[str], bool] = lambda term: True
    #: Engine components switched off (``assistant.ablation.COMPONENTS``).
    ablations: frozenset[str] = frozenset()
    #: Only decisions of this topic may be recommended (the topic filter); None: any.
    topic: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """A backend. ``stream`` yields token events and ends with one "answer" event."""

    @property
    def name(self) -> str: ...

    def generate(self, request: GenerationRequest) -> PlanAnswer: ...

    def stream(self, request: GenerationRequest) -> Iterator[AnswerEvent]: ...


def make_generator(name: str, settings: Settings, chat_model: Any | None = None) -> Generator:
    """The backend called ``name``. ``chat_model`` (a LangChain chat model) overrides
    ``settings.llm_model`` for the llm backend, e.g. a fake in tests."""
    if name == "grounded":
        from assistant.generation.grounded import GroundedGenerator

        return GroundedGenerator()
    if name == "llm":
        from assistant.generation.llm import LLMGenerator

        return LLMGenerator(settings, chat_model=chat_model)
    raise BackendError(
        f"unknown backend {name!r}.",
        f"use one of {', '.join(BACKENDS)} (KUBEPLAN_BACKEND or --backend).",
    )


def out_of_scope_answer(
    question: str,
    backend: str,
    profile: PlanningProfile,
    reason: str,
    standalone: str | None = None,
) -> PlanAnswer:
    """A refusal that says what kubeplan covers; no recommendations, no sources."""
    return PlanAnswer(
        question=question,
        status="out_of_scope",
        summary=f"{reason} {SCOPE_SUMMARY}",
        profile=profile,
        backend=backend,
        meta=AnswerMeta(standalone_question=standalone),
    )


def sources_event(passages: tuple[Passage, ...] | list[Passage]) -> AnswerEvent:
    return AnswerEvent(kind="sources", sources=[p.to_source() for p in passages])


def text_tokens(text: str) -> Iterator[str]:
    """Words with their trailing space, the way a model streams them."""
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == len(words) - 1 else word + " "


def unique_sources(sources: list[Source]) -> list[Source]:
    seen: set[str] = set()
    out = []
    for s in sources:
        if s.id not in seen:
            seen.add(s.id)
            out.append(s)
    return out


__all__ = [
    "BACKENDS",
    "GenerationRequest",
    "Generator",
    "make_generator",
    "out_of_scope_answer",
    "sources_event",
    "text_tokens",
    "unique_sources",
]
