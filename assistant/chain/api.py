"""``Assistant``: kubeplan's Python API. The CLI, the chat UI and the evals all go through it.

It wires the stages (loading, chunking, embedding, store, retrieval, generation)
from one ``Settings``; it holds no logic of its own beyond that wiring.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings, load_settings
from assistant.errors import AnswerTimeoutError
from assistant.schemas import (
    AnswerEvent,
    CollectionStats,
    Decision,
    IngestReport,
    PlanAnswer,
    PlanningProfile,
    Source,
    Timings,
    Turn,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.chain.answer_stream import PlanEvent
    from assistant.generation import Generator
    from assistant.index.embedding import Embedder
    from assistant.index.indexer import IngestProgress
    from assistant.index.store import VectorStore
    from assistant.ingest.catalogue import Catalogue
    from assistant.retrieval.cards import CardIndex
    from assistant.retrieval.passages import Passage, Retriever
    from assistant.understanding.profile import ConversationProfile


#: Fewer curated passages than this among the results triggers a curated-only search.
CURATED_MIN = 3


class Assistant:
    """Ask planning questions, retrieve passages, ingest documents.

    >>> a = Assistant()                       # settings from the environment
    >>> a.ask("How many etcd members should we run?").recommendations[0].decision_id
    'availability.etcd-odd-members'
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        chat_model: Any | None = None,
    ) -> None:
        """``embedder``, ``store`` and ``chat_model`` (a LangChain chat model for the llm
        backend) replace what the settings would build, e.g. fakes in tests."""
        self.settings = settings or load_settings()
        self._embedder = embedder
        self._store = store
        self._chat_model = chat_model
        self._catalogue: Catalogue | None = None
        self._retriever: Retriever | None = None
        self._generators: dict[str, Generator] = {}
        self._expand = True
        self._cards: CardIndex | None = None
        self._query_embedder: Embedder | None = None
        self._ablations: frozenset[str] = frozenset()

    def with_ablations(self, names: Iterable[str]) -> Assistant:
        """A new Assistant sharing this one's settings, embedder, store, retriever,
        catalogue, card index and backends, whose answers run with the named engine
        components (``assistant.chain.ablation.COMPONENTS``) switched off."""
        from assistant.chain.ablation import checked

        clone = copy.copy(self)
        clone._ablations = checked(names)
        # Make the shared parts exist once, on both, so neither loads them again.
        clone._embedder, clone._store = self.embedder, self.store
        clone._retriever, clone._catalogue = self.retriever, self.load_catalogue()
        self._embedder, self._store = clone._embedder, clone._store
        self._retriever, self._catalogue = clone._retriever, clone._catalogue
        self._cards = clone._cards = self.card_index()
        # Generators are stateless; share the dict's contents, not the dict.
        clone._generators = self._generators
        return clone

    @property
    def ablations(self) -> frozenset[str]:
        """Components switched off in this assistant's answers."""
        return self._ablations

    # -- components, built lazily once and reused ------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from assistant.index.embedding import make_embedder

            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            from assistant.index.store import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            from assistant.index.keyword import KeywordIndexes
            from assistant.retrieval.passages import Retriever

            self._retriever = Retriever(
                self.query_embedder,
                self.store,
                KeywordIndexes(self.store, self.settings.data_dir),
                self.settings.collection,
            )
        return self._retriever

    @property
    def query_embedder(self) -> Embedder:
        if self._query_embedder is None:
            from assistant.index.query_encoder import fast_query_embedder

            onnx = self.settings.query_encoder != "numpy"
            self._query_embedder = fast_query_embedder(
                self.embedder, self.settings.data_dir / "onnx" if onnx else None
            )
        return self._query_embedder

    def card_index(self) -> CardIndex:
        """The decision cards as retrieval units; vectors cached under data_dir/cards/
        per catalogue content hash (embedded once, then read)."""
        if self._cards is None:
            from assistant.retrieval.cards import build_card_index

            self._cards = build_card_index(
                self.load_catalogue(), self.embedder, self.settings.data_dir / "cards"
            )
        return self._cards

    def _embedding(self, texts: Sequence[str]) -> Callable[[str], Any]:
        """Embeds ``texts`` now, in one forward pass when the encoder allows it, and
        returns an embed function that serves them (and embeds anything else)."""
        import numpy as np

        encoder = self.query_embedder
        unique = list(dict.fromkeys(t for t in texts if t.strip()))
        many = getattr(encoder, "embed_queries", None)
        raw = many(unique) if many else [encoder.embed_query(t) for t in unique]
        vectors = {t: np.asarray(v, dtype=np.float32) for t, v in zip(unique, raw, strict=True)}

        def embed(text: str) -> Any:
            if text not in vectors:
                vectors[text] = np.asarray(encoder.embed_query(text), dtype=np.float32)
            return vectors[text]

        return embed

    def _asks_for_own_records(self, vector: Any) -> bool:
        """The prototype classifier of the abstention model reads the question as one
        about the user's own records (see ``abstain.asks_for_own_records``)."""
        if {"abstention", "abstention-meaning"} & self._ablations:
            return False
        from assistant.generation.abstain import asks_for_own_records, load_abstain

        return asks_for_own_records(load_abstain(), vector, self.embedder.name)

    def _known(self, collection: str | None) -> Callable[[str], bool]:
        from assistant.retrieval.cards import near_word

        cards = self.card_index()
        vocab = self.retriever.vocabulary(collection)

        def known(term: str) -> bool:
            if term in cards.vocabulary or term in vocab:
                return True
            # A misspelling of a word the knowledge base uses is not an unknown name.
            return near_word(term, cards.vocabulary)

        return known

    def load_catalogue(self) -> Catalogue:
        """The decision catalogue of ``settings.corpus_dir``, read once."""
        if self._catalogue is None:
            from assistant.ingest.catalogue import load_catalogue

            self._catalogue = load_catalogue(
                self.settings.corpus_dir, self.settings.data_dir / "catalogue"
            )
        return self._catalogue

    def generator(self, backend: str | None = None) -> Generator:
        name = backend or self.settings.backend
        if name not in self._generators:
            from assistant.generation import make_generator

            self._generators[name] = make_generator(name, self.settings, self._chat_model)
        return self._generators[name]

    # -- knowledge base (ingestion work) --------------------------------------------------
    def export_query_model(self) -> Path | None:
        """Write the ONNX export that long-lived processes embed questions with
        (``query_encoder`` auto or onnx) when it is missing, and return its path; ``None``
        when it does not apply (numpy chosen, a model without the numpy/ONNX path, or
        onnxruntime/onnx not installed). Loads torch for the export, so it belongs with
        ingest, never on the query path; a second call only finds the cached file."""
        import importlib.util

        from assistant.index import embedding_onnx
        from assistant.index.query_encoder import supports

        if self.settings.query_encoder == "numpy" or self.settings.embedder == "fake":
            return None
        if not embedding_onnx.runtime_available() or importlib.util.find_spec("onnx") is None:
            return None
        path = getattr(self.embedder, "path", None)
        if not (isinstance(path, Path) and supports(path)):
            return None
        return embedding_onnx.model_file(path, self.settings.data_dir / "onnx", "fp32")

    def ingest(
        self,
        paths: Sequence[Path | str] | None = None,
        *,
        collection: str | None = None,
        rebuild: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Bring a collection in line with ``paths`` (default: the bundled corpus).

        Incremental: only new or changed chunks are embedded; chunks of changed and
        removed files are deleted. ``rebuild`` starts the collection afresh.
        """
        from assistant.index.indexer import ingest

        return ingest(
            paths,
            settings=self.settings,
            collection=collection,
            rebuild=rebuild,
            include=include,
            exclude=exclude,
            progress=progress,
            embedder=self.embedder,
            store_factory=lambda: self.store,
        )

    def stats(self, collection: str | None = None) -> CollectionStats:
        """Chunk and source counts, topics, last ingest time and location of a collection."""
        from assistant.index.indexer import collection_stats

        return collection_stats(self.store, collection or self.settings.collection)

    # -- answers (answer-chain work) ------------------------------------------------------
    def catalogue(self, topic: str | None = None) -> list[Decision]:
        """Decisions of the curated corpus (of one topic), ordered by id."""
        return self.load_catalogue().by_topic(topic)

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        topic: str | None = None,
        collection: str | None = None,
    ) -> list[Source]:
        """Hybrid (dense + BM25) search; best first."""
        from assistant.ingest.untrusted import clean_question

        query = clean_question(query or "", self.settings.max_question_chars)
        passages = self.retriever.search(query, k or self.settings.top_k, topic, collection)
        return [p.to_source() for p in passages]

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
        *,
        k: int | None = None,
        topic: str | None = None,
        retracted: PlanningProfile | None = None,
    ) -> PlanAnswer:
        """A cited, structured answer to a planning question.

        ``history`` holds the earlier turns (follow-ups are resolved against it); ``profile``
        overrides what is read from the conversation; ``k`` and ``topic`` narrow retrieval.
        ``retracted`` holds facts the user says no longer hold (e.g. an inferred fact they
        removed): they leave the inferred profile whichever turn said them, their words are
        not searched, and ``meta.negated_profile`` lists them; the explicit ``profile``
        still wins over a retraction.
        """
        answer: PlanAnswer | None = None
        for event in self._answer(
            question, history, profile, backend, k, topic, stream=False, retracted=retracted
        ):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
        *,
        k: int | None = None,
        topic: str | None = None,
        retracted: PlanningProfile | None = None,
    ) -> Iterator[PlanEvent]:
        """The answer of ``ask`` piece by piece, as typed events (``chain.answer_stream``):
        ``retrieved`` (what search found), ``token`` (llm backend: text while the model
        writes), then ``summary``, one ``card`` per recommendation, ``sources`` and ``done``
        (the whole ``PlanAnswer``). Same arguments as ``ask``; errors are raised as ``ask``
        raises them."""
        from assistant.chain.answer_stream import RetrievedEvent, TokenEvent, answer_events
        from assistant.errors import BackendUnavailableError

        name = backend or self.settings.backend
        for event in self._answer(
            question, history, profile, backend, k, topic, stream=True, retracted=retracted
        ):
            if event.kind == "sources":
                yield RetrievedEvent(sources=list(event.sources))
            elif event.kind == "token" and name != "grounded":
                # The grounded engine's tokens are its finished answer re-read as words: its
                # summary and cards follow at once, so only a model's writing is streamed.
                yield TokenEvent(text=event.text)
            elif event.kind == "error":
                raise BackendUnavailableError(
                    event.text or "the LLM backend failed while answering.",
                    "try again, or use the grounded backend.",
                )
            elif event.kind == "answer" and event.answer is not None:
                yield from answer_events(event.answer)

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        profile: PlanningProfile | None = None,
        backend: str | None = None,
        *,
        k: int | None = None,
        topic: str | None = None,
        retracted: PlanningProfile | None = None,
    ) -> Iterator[AnswerEvent]:
        """Retrieval results, then text tokens, then the final answer event (``ask_stream``
        gives the answer as typed summary, card and sources events)."""
        yield from self._answer(
            question, history, profile, backend, k, topic, stream=True, retracted=retracted
        )

    def _answer(
        self,
        question: str,
        history: Sequence[Turn] | None,
        profile: PlanningProfile | None,
        backend: str | None,
        k: int | None,
        topic: str | None,
        *,
        stream: bool,
        retracted: PlanningProfile | None = None,
    ) -> Iterator[AnswerEvent]:
        from assistant.generation import (
            GenerationRequest,
            out_of_scope_answer,
            own_records_answer,
            sources_event,
        )
        from assistant.ingest.untrusted import clean_question
        from assistant.understanding.conversation import standalone_question, without_retracted
        from assistant.understanding.profile import conversation_profile
        from assistant.understanding.scope import is_injection, is_off_topic

        limit = self.settings.max_question_chars
        question = clean_question(question or "", limit)
        # One-time loading (card vectors embedded on first use, keyword indexes) is not
        # answering: it must not spend the answer's time budget.
        self.card_index()
        _ = self.retriever
        started = time.perf_counter()
        budget = self.settings.answer_timeout
        deadline = started + budget if budget > 0 else None
        # Earlier turns are context, not questions: kept, but bounded like one.
        turns = tuple(
            Turn(role=t.role, content=t.content[: limit * 2]) for t in (history or ())
        )
        generator = self.generator(backend)
        # A retracted fact's words are not read again from the question or the earlier
        # turns: without a retraction both are the question as asked.
        asked = without_retracted(question, retracted)
        standalone = without_retracted(standalone_question(question, turns), retracted)
        profiles = conversation_profile(
            question, turns, profile, retracted,
            infer_services="cloud-services" not in self._ablations,
            structured="negation-structure" not in self._ablations,
        )
        used_profile = profiles.used

        def finish(answer: PlanAnswer, retrieve_s: float) -> PlanAnswer:
            if answer.question != question:
                answer = answer.model_copy(update={"question": question})
            return self._timed(self._with_profiles(answer, profiles), started, retrieve_s)

        if is_injection(question):
            answer = out_of_scope_answer(
                question,
                generator.name,
                used_profile,
                "kubeplan does not change its instructions or reveal its prompt.",
                standalone,
            )
            yield AnswerEvent(kind="answer", answer=finish(answer, 0.0))
            return
        from assistant.generation.engine import searched_text
        from assistant.understanding.profile import retrieval_expansion

        # Facts said not to hold ("no Windows or GPU nodes") must not steer search.
        searched = searched_text(standalone, self._ablations)
        expansion = retrieval_expansion(used_profile, searched) if self._expand else ""
        query = f"{searched} {expansion}".strip()
        _check_deadline(deadline, budget, "understanding the question")
        k_used = k or self.settings.top_k
        from assistant.generation.engine import texts_to_embed

        embed = self._embedding(
            [query, *texts_to_embed(asked, standalone, self._ablations, expansion,
                                   used_profile)]
        )
        found = self.retriever.search(query, k_used, topic, vector=embed(query))
        if sum(1 for p in found if p.chunk.decision_ids) < CURATED_MIN:
            # Uncurated documents (e.g. the Kubernetes docs) filled the results: add the
            # best curated passages so the catalogue decisions keep their evidence.
            seen = {p.chunk.id for p in found}
            curated = self.retriever.curated(query, k_used, topic)
            extra = [p for p in curated if p.chunk.id not in seen]
            found = [*found, *extra[: max(k_used // 2, 2)]]
        # A passage that gives orders to an assistant is shown in search results (flagged)
        # but never handed to a backend as evidence.
        withheld = [_describe(p.chunk.path, p.chunk.heading_path) for p in found if p.chunk.flags]
        passages = tuple(p for p in found if not p.chunk.flags)
        retrieved = time.perf_counter()
        _check_deadline(deadline, budget, "retrieval")
        best = max((p.dense for p in passages if p.dense is not None), default=None)
        if is_off_topic(standalone, best):
            answer = (
                own_records_answer(question, generator.name, used_profile, standalone)
                if self._asks_for_own_records(embed(standalone))
                else out_of_scope_answer(
                    question,
                    generator.name,
                    used_profile,
                    "This question is not about planning or running Kubernetes infrastructure.",
                    standalone,
                )
            )
            yield AnswerEvent(
                kind="answer", answer=finish(answer, retrieved - started)
            )
            return
        user_text = " ".join(
            without_retracted(t.content, retracted) for t in turns if t.role == "user"
        )
        request = GenerationRequest(
            question=asked,
            standalone_question=standalone,
            search_question=searched,
            profile=used_profile,
            passages=passages,
            catalogue=self.load_catalogue(),
            history=turns,
            context_text=f"{user_text} {asked}",
            lookup=self._lookup(topic),
            cards=self.card_index(),
            embed=embed,
            query_text=query,
            known=self._known(None),
            ablations=self._ablations,
            topic=topic,
            extra={"deadline": deadline} if deadline is not None else {},
        )
        if not stream:
            answer = _with_withheld(generator.generate(request), withheld)
            _check_deadline(deadline, budget, "generating the answer")
            yield AnswerEvent(
                kind="answer", answer=finish(answer, retrieved - started)
            )
            return
        sent_sources = False
        for event in generator.stream(request):
            if event.kind == "answer" and event.answer is not None:
                if not sent_sources:
                    yield sources_event(passages)
                answer = _with_withheld(event.answer, withheld)
                event = AnswerEvent(
                    kind="answer",
                    answer=finish(answer, retrieved - started),
                )
            sent_sources = sent_sources or event.kind == "sources"
            yield event

    def _lookup(self, topic: str | None) -> Callable[[Sequence[str]], list[Passage]]:
        """Section passages of decisions, kept inside ``topic`` when one is asked for."""
        retriever = self.retriever

        def lookup(decision_ids: Sequence[str]) -> list[Passage]:
            found = retriever.decision_passages(decision_ids)
            return [p for p in found if topic is None or p.chunk.topic == topic]

        return lookup

    @staticmethod
    def _with_profiles(answer: PlanAnswer, profiles: ConversationProfile) -> PlanAnswer:
        """The answer's meta says which profile was explicit, inferred, negated, changed."""
        meta = answer.meta.model_copy(
            update={
                "explicit_profile": profiles.explicit,
                "inferred_profile": profiles.inferred,
                "negated_profile": profiles.negated,
                "profile_changes": profiles.changes,
            }
        )
        return answer.model_copy(update={"meta": meta, "profile": profiles.used})

    @staticmethod
    def _timed_out(budget: float, stage: str) -> AnswerTimeoutError:
        return AnswerTimeoutError(
            f"answering took longer than the {budget:g}-second budget (stopped after {stage}).",
            "ask a shorter, more specific question, or raise KUBEPLAN_ANSWER_TIMEOUT.",
        )

    @staticmethod
    def _timed(answer: PlanAnswer, started: float, retrieve_s: float) -> PlanAnswer:
        total = (time.perf_counter() - started) * 1000
        retrieve_ms = retrieve_s * 1000
        timings = Timings(
            retrieve_ms=round(retrieve_ms, 3),
            generate_ms=round(max(total - retrieve_ms, 0.0), 3),
            total_ms=round(total, 3),
        )
        return answer.model_copy(update={"timings": timings})


def _check_deadline(deadline: float | None, budget: float, stage: str) -> None:
    """Stop between stages once the answer's time budget is spent."""
    if deadline is not None and time.perf_counter() > deadline:
        raise Assistant._timed_out(budget, stage)


def _describe(path: str, headings: Sequence[str]) -> str:
    return f"{path}: {' > '.join(headings)}" if headings else path


def _with_withheld(answer: PlanAnswer, withheld: list[str]) -> PlanAnswer:
    if not withheld:
        return answer
    meta = answer.meta.model_copy(update={"withheld": withheld})
    return answer.model_copy(update={"meta": meta})
