"""``Assistant``: kubeplan's Python API. The CLI, the chat UI and the evals all go through it.

It wires the stages (loading, chunking, embedding, store, retrieval, generation)
from one ``Settings``; it holds no logic of its own beyond that wiring.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from .config import Settings, load_settings
from .schemas import (
    AnswerEvent,
    CollectionStats,
    Decision,
    IngestReport,
    PlanAnswer,
    PlanningProfile,
    Source,
    Turn,
)


class Assistant:
    """Ask planning questions, retrieve passages, ingest documents.

    >>> a = Assistant()                       # settings from the environment
    >>> a.ask("How many etcd members should we run?").recommendations[0].decision_id
    'availability.etcd-odd-members'
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()

    # -- knowledge base (ingestion work) --------------------------------------------------
    def ingest(
        self,
        paths: Sequence[Path | str] | None = None,
        *,
        collection: str | None = None,
        rebuild: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> IngestReport:
        raise NotImplementedError

    def stats(self, collection: str | None = None) -> CollectionStats:
        raise NotImplementedError

    # -- answers (answer-chain work) ------------------------------------------------------
    def catalogue(self, topic: str | None = None) -> list[Decision]:
        raise NotImplementedError

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        topic: str | None = None,
        collection: str | None = None,
    ) -> list[Source]:
        raise NotImplementedError

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
    ) -> PlanAnswer:
        raise NotImplementedError

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
    ) -> Iterator[AnswerEvent]:
        raise NotImplementedError
