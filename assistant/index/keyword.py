"""Keyword (BM25) search over a collection, beside the vector store.

The index lives under ``data_dir/keyword/<collection>/`` and records the collection's
``generation`` (set by every ingest that changed something). When the store reports
another generation the index is rebuilt from ``store.iter_chunks``; that works for an
embedded store and for a Chroma server alike, so ingest never has to call us.
bm25s is imported only to build an index; a saved one is scored with numpy over
memory-mapped arrays (``SavedBm25``), so answering a question never imports bm25s or
scipy.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.errors import StoreError
from assistant.index.store import VectorStore, is_internal
from assistant.schemas import Chunk, ScoredChunk

_TOKEN = re.compile(r"[a-z0-9]+(?:[+#][a-z0-9+#]*)?")

# Short on purpose: words like "how", "many", "should" carry intent in planning
# questions only through their neighbours, and BM25's IDF handles the rest.
STOPWORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do",
        "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it",
        "its", "me", "my", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them",
        "then", "there", "these", "they", "this", "those", "to", "too", "us", "was", "we",
        "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "would",
        "you", "your", "should", "shall", "may", "might", "must", "am", "also", "just", "not",
        "no", "any", "all", "some", "such", "via", "per", "about", "up", "out", "i'm", "we're",
        "it's",
    }
)

_KEEP = frozenset({"kubernetes", "windows", "status", "redis", "postgres", "https"})
_IRREGULAR = {"gpus": "gpu", "cpus": "cpu", "k8s": "kubernetes"}


@lru_cache(maxsize=1)
def _snowball() -> Any:
    import importlib

    try:
        # PyStemmer: Snowball English as a C extension (fast, untyped).
        stemmer = importlib.import_module("Stemmer")
    except ImportError:
        return None
    return stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English stem ('isolation' and 'isolate' meet), applied alike to queries
    and passages; a light plural folding when PyStemmer is missing."""
    if word in _IRREGULAR:
        word = _IRREGULAR[word]
    snowball = _snowball()
    if snowball is not None:
        return str(snowball.stemWord(word))
    if len(word) <= 3 or word.endswith(("ss", "us", "is")) or word in _KEEP:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, lightly stemmed word tokens; the one tokenizer all keyword scoring uses."""
    words = _TOKEN.findall(text.lower())
    return [stem(w) for w in words if keep_stopwords or w not in STOPWORDS]


def chunk_text_for_index(chunk: Chunk) -> str:
    """What BM25 sees of a chunk: its title and heading path weigh in beside the text."""
    heading = " ".join(chunk.heading_path)
    return f"{chunk.title} {heading} {heading} {chunk.text}"


@dataclass
class KeywordIndex:
    """A BM25 index over chunks, searchable with equality filters on chunk metadata."""

    chunks: list[Chunk]
    generation: str
    _bm25: Any = field(default=None, repr=False)
    _sections: dict[str, list[Chunk]] | None = field(default=None, repr=False)
    _vocabulary: frozenset[str] | None = field(default=None, repr=False)

    def vocabulary(self) -> frozenset[str]:
        """Every token the index knows, computed once."""
        if self._vocabulary is None:
            self._vocabulary = frozenset(self._bm25.vocab_dict) if self._bm25 else frozenset()
        return self._vocabulary

    def section_chunks(self, decision_id: str) -> list[Chunk]:
        """Chunks of the section that explains ``decision_id`` (tied to it alone)."""
        if self._sections is None:
            sections: dict[str, list[Chunk]] = {}
            for chunk in self.chunks:
                if len(chunk.decision_ids) == 1:
                    sections.setdefault(chunk.decision_ids[0], []).append(chunk)
            for group in sections.values():
                group.sort(key=lambda c: (c.path, c.ordinal, c.id))
            self._sections = sections
        return list(self._sections.get(decision_id, []))

    @classmethod
    def build(cls, chunks: Iterable[Chunk], generation: str) -> KeywordIndex:
        import bm25s

        ordered = sorted(chunks, key=lambda c: c.id)
        bm25 = bm25s.BM25()
        corpus = [tokenize(chunk_text_for_index(c)) or ["\u2205"] for c in ordered]
        if corpus:
            bm25.index(corpus, show_progress=False)
        return cls(chunks=ordered, generation=generation, _bm25=bm25 if corpus else None)

    def search(
        self,
        query: str,
        k: int,
        where: Mapping[str, Any] | None = None,
        curated_only: bool = False,
    ) -> list[ScoredChunk]:
        """The ``k`` best chunks for ``query``; chunks with no query term never appear.
        ``curated_only`` keeps chunks that explain catalogue decisions."""
        if self._bm25 is None or k <= 0:
            return []
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        import numpy as np

        scores = self._bm25.get_scores(list(dict.fromkeys(tokens)))
        hits = np.flatnonzero(scores > 0)
        # Chunks are held sorted by id, so a stable sort breaks score ties by id.
        order = hits[np.argsort(-scores[hits], kind="stable")]
        found: list[ScoredChunk] = []
        for i in order:
            chunk = self.chunks[int(i)]
            if _matches(chunk, where) and (chunk.decision_ids or not curated_only):
                found.append(ScoredChunk(chunk=chunk, score=float(scores[i])))
                if len(found) >= k:
                    break
        return found

    # -- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the index atomically: readers see the old one or the new one, never half."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Unique per call: several processes and threads may save the same index at once.
        unique = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = folder.with_name(f"{folder.name}.tmp-{unique}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk in self.chunks:
                fh.write(chunk.model_dump_json() + "\n")
        (tmp / "meta.json").write_text(
            json.dumps({"generation": self.generation, "chunks": len(self.chunks)}),
            encoding="utf-8",
        )
        old = folder.with_name(f"{folder.name}.old-{unique}")
        try:
            if folder.exists():
                with contextlib.suppress(FileNotFoundError):  # another process moved it
                    os.replace(folder, old)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        """The saved index, or ``None`` when there is none, it is unreadable, or another
        process replaced the folder while it was read (its files would mix two indexes)."""
        try:
            before = folder.stat().st_ino
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
                chunks = [Chunk.model_validate_json(line) for line in fh if line.strip()]
            bm25 = SavedBm25.load(folder / "bm25") if (folder / "bm25").is_dir() else None
            if folder.stat().st_ino != before or meta.get("chunks") != len(chunks):
                return None
            if bm25 is not None and not bm25.consistent(len(chunks)):
                return None
        except (OSError, ValueError, KeyError):
            return None
        return cls(chunks=chunks, generation=str(meta["generation"]), _bm25=bm25)

    @staticmethod
    def saved_generation(folder: Path) -> str | None:
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            return str(meta["generation"])
        except (OSError, ValueError, KeyError):
            return None


class SavedBm25:
    """A saved bm25s index, scored with numpy alone over memory-mapped arrays.

    A question needs only the score columns of its own tokens: loading bm25s itself
    would import scipy (a large share of a cold ``kubeplan ask``) and read the whole
    matrix. ``get_scores`` is bm25s's own sum (``BM25.get_scores``: ``np.add.at`` per
    token, in the index's dtype), so scores and rankings are the same
    (tests/test_keyword.py compares them).
    """

    def __init__(
        self,
        vocab: dict[str, int],
        data: Any,
        indices: Any,
        indptr: Any,
        num_docs: int,
        dtype: str = "float32",
        nonoccurrence: Any = None,
    ) -> None:
        self.vocab_dict = vocab
        self._data, self._indices, self._indptr = data, indices, indptr
        self._num_docs = num_docs
        self._dtype = dtype
        self._nonoccurrence = nonoccurrence

    @classmethod
    def load(cls, folder: Path) -> SavedBm25:
        import numpy as np

        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        if not isinstance(vocab, dict):
            raise ValueError(f"{folder}: the vocabulary is not a mapping")
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False)
            for name in ("data", "indices", "indptr")
        )
        nnoc = folder / "nonoccurrence_array.index.npy"
        nonoccurrence = np.load(nnoc, allow_pickle=False) if nnoc.is_file() else None
        return cls(
            vocab, data, indices, indptr, int(params["num_docs"]),
            str(params.get("dtype", "float32")), nonoccurrence,
        )

    def consistent(self, n_chunks: int) -> bool:
        """Whether the index is whole: its vocabulary fits its score matrix, and it
        scores as many documents as there are chunks."""
        if self._num_docs != n_chunks or len(self._indices) != len(self._data):
            return False
        # bm25s keeps an empty-string entry past the matrix; a query never holds it.
        top = max((v for k, v in self.vocab_dict.items() if k), default=-1)
        return top < len(self._indptr) - 1

    def get_scores(self, tokens: list[str]) -> Any:
        """BM25 score of every document for ``tokens`` (unknown tokens ignored)."""
        import numpy as np

        ids = [self.vocab_dict[t] for t in tokens if t in self.vocab_dict]
        scores = np.zeros(self._num_docs, dtype=np.dtype(self._dtype))
        for token_id in ids:
            start, end = int(self._indptr[token_id]), int(self._indptr[token_id + 1])
            np.add.at(scores, self._indices[start:end], self._data[start:end])
        if self._nonoccurrence is not None and ids:
            scores += self._nonoccurrence[np.asarray(ids)].sum()
        return scores


def _matches(chunk: Chunk, where: Mapping[str, Any] | None) -> bool:
    if not where:
        return True
    return all(getattr(chunk, key, None) == value for key, value in where.items())


def collection_generation(store: VectorStore, collection: str) -> str:
    """The store's generation marker for ``collection`` (count-based when ingest set none)."""
    meta = store.get_meta(collection)
    generation = meta.get("generation")
    if generation:
        return str(generation)
    return f"count-{store.count(collection)}"


def index_dir(data_dir: Path, collection: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", collection)
    return data_dir / "keyword" / safe


class KeywordIndexes:
    """Keyword indexes per collection, kept in memory and on disk, rebuilt when stale."""

    def __init__(self, store: VectorStore, data_dir: Path) -> None:
        self._store = store
        self._data_dir = data_dir
        self._loaded: dict[str, KeywordIndex] = {}
        # The physical generation each loaded index was checked against.
        self._sources: dict[str, str] = {}
        # The chat UI serves several sessions from one Assistant: one (re)build at a time.
        self._lock = threading.Lock()

    def get(self, collection: str, source: str | None = None) -> KeywordIndex:
        """The index of ``collection``; ``source`` pins the physical generation to read
        (the one the dense search of the same request used)."""
        with self._lock:
            return self._get(collection, source or collection)

    def _get(self, collection: str, source: str) -> KeywordIndex:
        cached = self._loaded.get(collection)
        if cached is not None and self._sources.get(collection) == source and is_internal(source):
            # A published generation never changes in place (a change is a new one):
            # the index checked against it still holds, with no store call.
            return cached
        generation = collection_generation(self._store, source)
        if cached is not None and cached.generation == generation:
            self._sources[collection] = source
            return cached
        folder = index_dir(self._data_dir, collection)
        index = None
        if KeywordIndex.saved_generation(folder) == generation:
            index = KeywordIndex.load(folder)
        if index is None:
            index = self._build(source, generation)
            # Readers rebuild together after an ingest: the first to finish saves it.
            if KeywordIndex.saved_generation(folder) != index.generation:
                _save_shared(index, folder)
        self._loaded[collection] = index
        self._sources[collection] = source
        return index

    def _build(self, source: str, generation: str) -> KeywordIndex:
        """Build from one generation: if an ingest published another one while the chunks
        were read, read again, so the stamp always matches the chunks."""
        for _ in range(3):
            index = KeywordIndex.build(self._store.iter_chunks(source), generation)
            now = collection_generation(self._store, source)
            if now == generation:
                return index
            generation = now
        return KeywordIndex.build(self._store.iter_chunks(source), generation)

    def search(
        self,
        collection: str,
        query: str,
        k: int,
        where: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> list[ScoredChunk]:
        return self.get(collection, source).search(query, k, where)


def _save_shared(index: KeywordIndex, folder: Path, attempts: int = 4) -> None:
    """Save ``index`` where other processes may be saving theirs at the same moment.

    After an ingest every reader process rebuilds and saves at once, and the folder swap
    in ``save`` is two renames: a loser of that race tries again, or stops when a winner
    already saved the same generation. Only a folder nobody can write is an error.
    """
    for attempt in range(attempts):
        try:
            index.save(folder)
            return
        except OSError as exc:
            if KeywordIndex.saved_generation(folder) == index.generation:
                return
            if attempt == attempts - 1:
                raise StoreError(
                    f"cannot write the keyword index under {folder}: {exc}",
                    "make KUBEPLAN_DATA_DIR writable or point it at a writable folder.",
                ) from exc
            time.sleep(0.02 * (attempt + 1) + random.random() * 0.05)


def content_tokens(texts: Sequence[str]) -> set[str]:
    """Distinct content tokens of several texts."""
    return {t for text in texts for t in tokenize(text)}
