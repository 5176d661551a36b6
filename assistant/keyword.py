"""Keyword (BM25) search over a collection, beside the vector store.

The index lives under ``data_dir/keyword/<collection>/`` and records the collection's
``generation`` (set by every ingest that changed something). When the store reports
another generation the index is rebuilt from ``store.iter_chunks``; that works for an
embedded store and for a Chroma server alike, so ingest never has to call us.
bm25s is imported only to build an index; a saved one is scored with numpy over
memory-mapped arrays (``SavedBm25``), so a question never imports bm25s or scipy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import StoreError
from .schemas import Chunk, ScoredChunk
from .store import VectorStore

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
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
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
        old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        """The saved index, or ``None`` when there is none or it is unreadable."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
                chunks = [Chunk.model_validate_json(line) for line in fh if line.strip()]
            bm25 = SavedBm25.load(folder / "bm25") if (folder / "bm25").is_dir() else None
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

    Answering a question needs only the per-token score columns bm25s saved; loading
    bm25s itself would import scipy (half a second of a cold `kubeplan ask`) and read
    the whole matrix. Scores equal bm25s's ``get_scores`` (tests/test_keyword.py).
    """

    def __init__(self, vocab: dict[str, int], data: Any, indices: Any, indptr: Any,
                 num_docs: int) -> None:
        self.vocab_dict = vocab
        self._data, self._indices, self._indptr = data, indices, indptr
        self._num_docs = num_docs

    @classmethod
    def load(cls, folder: Path) -> SavedBm25:
        import numpy as np

        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy", mmap_mode="r")
            for name in ("data", "indices", "indptr")
        )
        return cls(vocab, data, indices, indptr, int(params["num_docs"]))

    def get_scores(self, tokens: list[str]) -> Any:
        import numpy as np

        scores = np.zeros(self._num_docs, dtype=np.float32)
        for token in tokens:
            column = self.vocab_dict.get(token)
            if column is None:
                continue
            start, end = int(self._indptr[column]), int(self._indptr[column + 1])
            np.add.at(scores, np.asarray(self._indices[start:end]),
                      np.asarray(self._data[start:end], dtype=np.float32))
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
        # The chat UI serves several sessions from one Assistant: one (re)build at a time.
        self._lock = threading.Lock()

    def get(self, collection: str, generation: str | None = None) -> KeywordIndex:
        """The index of ``collection`` at ``generation`` (read from the store when None)."""
        with self._lock:
            return self._get(collection, generation)

    def generation(self, collection: str) -> str:
        return collection_generation(self._store, collection)

    def _get(self, collection: str, generation: str | None = None) -> KeywordIndex:
        generation = generation or collection_generation(self._store, collection)
        cached = self._loaded.get(collection)
        if cached is not None and cached.generation == generation:
            return cached
        folder = index_dir(self._data_dir, collection)
        index = None
        if KeywordIndex.saved_generation(folder) == generation:
            index = KeywordIndex.load(folder)
        if index is None:
            index = KeywordIndex.build(self._store.iter_chunks(collection), generation)
            try:
                index.save(folder)
            except OSError as exc:
                raise StoreError(
                    f"cannot write the keyword index under {folder}: {exc}",
                    "make KUBEPLAN_DATA_DIR writable or point it at a writable folder.",
                ) from exc
        self._loaded[collection] = index
        return index

    def search(
        self, collection: str, query: str, k: int, where: Mapping[str, Any] | None = None
    ) -> list[ScoredChunk]:
        return self.get(collection).search(query, k, where)


def content_tokens(texts: Sequence[str]) -> set[str]:
    """Distinct content tokens of several texts."""
    return {t for text in texts for t in tokenize(text)}
