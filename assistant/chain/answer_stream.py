"""The typed events of ``Assistant.ask_stream``: an answer delivered piece by piece.

Order: ``retrieved`` (what search found, before anything is composed), ``token`` (text an
LLM writes while it writes; llm backend only), then ``summary``, one ``card`` per
recommendation in the answer's order, ``sources`` (the passages the answer cites) and
``done`` (the whole ``PlanAnswer``, the same as ``Assistant.ask`` returns). Put together,
``summary`` + ``card``s + ``sources`` are that answer. Pure: data in, data out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from assistant.schemas import PlanAnswer, PlanningProfile, Recommendation, Source, Status, Strict


class RetrievedEvent(Strict):
    """The passages search found, before the answer is composed (not all are cited)."""

    kind: Literal["retrieved"] = "retrieved"
    sources: list[Source] = Field(default_factory=list)


class TokenEvent(Strict):
    """A piece of text an LLM backend wrote (shown while it writes)."""

    kind: Literal["token"] = "token"
    text: str


class SummaryEvent(Strict):
    """The answer's head: its status, summary and the profile it used."""

    kind: Literal["summary"] = "summary"
    question: str
    status: Status
    summary: str
    profile: PlanningProfile
    cards: int = Field(description="How many card events follow.")


class CardEvent(Strict):
    """One recommendation card, ``index`` counting from 0 in the answer's order."""

    kind: Literal["card"] = "card"
    index: int
    recommendation: Recommendation


class SourcesEvent(Strict):
    """The passages the answer cites (``PlanAnswer.sources``)."""

    kind: Literal["sources"] = "sources"
    sources: list[Source] = Field(default_factory=list)


class DoneEvent(Strict):
    """The whole answer, as ``Assistant.ask`` returns it."""

    kind: Literal["done"] = "done"
    answer: PlanAnswer


PlanEvent = Annotated[
    RetrievedEvent | TokenEvent | SummaryEvent | CardEvent | SourcesEvent | DoneEvent,
    Field(discriminator="kind"),
]


AnswerPart = SummaryEvent | CardEvent | SourcesEvent | DoneEvent


def answer_events(answer: PlanAnswer) -> Iterator[AnswerPart]:
    """``answer`` as its summary, its cards one by one, its sources, then done."""
    yield SummaryEvent(
        question=answer.question,
        status=answer.status,
        summary=answer.summary,
        profile=answer.profile,
        cards=len(answer.recommendations),
    )
    for i, rec in enumerate(answer.recommendations):
        yield CardEvent(index=i, recommendation=rec)
    yield SourcesEvent(sources=list(answer.sources))
    yield DoneEvent(answer=answer)


def assemble(events: list[PlanEvent]) -> tuple[str, list[Recommendation], list[Source]]:
    """The summary, cards and sources the events carried (what a client rebuilds)."""
    summary = next((e.summary for e in events if isinstance(e, SummaryEvent)), "")
    cards = [e.recommendation for e in sorted(
        (e for e in events if isinstance(e, CardEvent)), key=lambda e: e.index
    )]
    sources = next((e.sources for e in events if isinstance(e, SourcesEvent)), [])
    return summary, cards, list(sources)
