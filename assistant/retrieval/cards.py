"""Decision cards as retrieval units: dense (MiniLM) and BM25 search over the catalogue.

Each card (title, recommendation, when, trade-offs, and the optional ``asked_as``
phrasings written from the card's own content) is embedded once per catalogue content
hash and embedder; the vectors are cached as ``.npz`` under ``data_dir/cards/``. The same
cache holds the embeddings of the curated documents' sentences (for picking the sentence
that explains a recommendation) and of the abstention prototypes (a data file), and the
card model learned from the catalogue's own texts (``card_model.py``, ``learned-*.npz``).
numpy is imported lazily; the cards' BM25 index is built with bm25s once per card
text and saved beside the vectors, then scored with numpy alone (``SavedBm25``), so a
cold ``kubeplan ask`` never imports bm25s or scipy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from assistant.index.embedding import Embedder
from assistant.index.keyword import SavedBm25, tokenize
from assistant.ingest.catalogue import Catalogue
from assistant.retrieval.card_model import CardModel, TrainingText, training_texts
from assistant.schemas import Decision

#: Bump when what is embedded changes, so old caches are not reused.
CACHE_VERSION = "2"

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"(])")
_MARKUP = re.compile(r"[#*_>`|]+")


def card_text(d: Decision) -> str:
    """What the dense model reads of a card (under MiniLM's 256-token window)."""
    return f"{d.title}. {d.recommendation} Fits when: {'; '.join(d.when)}."


def card_keyword_text(d: Decision) -> str:
    """What BM25 reads of a card: the title twice, the slug, the content fields.
    ``avoid_when`` stays out: naming a condition that rules a card out is no match."""
    slug = d.id.split(".", 1)[1].replace("-", " ")
    return " ".join(
        [d.title, d.title, slug, d.recommendation, *d.when, *d.tradeoffs, *d.asked_as]
    )


def clean_text(text: str) -> str:
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", text)).strip()


def sentences(text: str) -> list[str]:
    """Whole sentences of a passage (five words or more), markup removed."""
    found = [s.strip() for s in _SENTENCE.split(clean_text(text)) if len(s.split()) >= 5]
    return [s for s in found if s[:1].isupper() or s[:1].isdigit()]


def near_word(word: str, vocabulary: frozenset[str], cutoff: float = 0.8) -> bool:
    """``word`` is one or two typos away from a vocabulary word of similar length
    (difflib ratio; only words sharing the first letter are compared, for speed)."""
    return nearest_word(word, vocabulary, cutoff) is not None


def nearest_word(word: str, vocabulary: frozenset[str], cutoff: float = 0.8) -> str | None:
    """The vocabulary word ``word`` is a misspelling of (itself when the vocabulary has
    it), or ``None``; words under five letters are too short to tell a typo apart."""
    import difflib

    if word in vocabulary:
        return word
    if len(word) < 5:
        return None
    pool = [v for v in _by_initial(vocabulary).get(word[0], ()) if abs(len(v) - len(word)) <= 2]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    return found[0] if found else None


_INITIALS: dict[int, dict[str, tuple[str, ...]]] = {}


def _by_initial(vocabulary: frozenset[str]) -> dict[str, tuple[str, ...]]:
    found = _INITIALS.get(id(vocabulary))
    if found is None:
        groups: dict[str, list[str]] = {}
        for v in vocabulary:
            groups.setdefault(v[:1], []).append(v)
        found = {k: tuple(sorted(g)) for k, g in groups.items()}
        _INITIALS.clear()
        _INITIALS[id(vocabulary)] = found
    return found


def sentence_key(sentence: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", sentence.lower())


@dataclass(frozen=True)
class Prototypes:
    """Exemplar questions per abstention class, from ``prompts/prototypes.yaml``."""

    classes: dict[str, tuple[str, ...]]

    def texts(self) -> list[tuple[str, str]]:
        return [(name, text) for name, items in self.classes.items() for text in items]


def load_prototypes() -> Prototypes:
    raw = resources.files("assistant.generation").joinpath("prompts/prototypes.yaml")
    # Our own data file: libyaml's safe loader when PyYAML has it (a cold-start cost).
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(raw.read_text(encoding="utf-8"), Loader=loader) or {}
    return Prototypes({str(k): tuple(str(x) for x in v) for k, v in data.items()})


@dataclass
class CardIndex:
    """Card vectors, a BM25 index over the cards, the corpus vocabulary, sentence and
    prototype vectors. Built by ``load_card_index``; read-only afterwards."""

    ids: list[str]
    decisions: list[Decision]
    vectors: Any  # float32 [cards, dim], L2-normalised
    phrase_vectors: Any  # float32 [phrasings, dim]
    phrase_owner: Any  # int [phrasings]: row in ``ids``
    sentence_vectors: dict[str, Any]
    prototype_labels: list[str]
    prototype_vectors: Any
    vocabulary: frozenset[str]
    #: The embedder's name: fitted thresholds on cosines hold for this model only.
    embedder: str = ""
    #: The softmax card model fitted on the catalogue's own texts (``card_model.py``).
    learned: CardModel | None = None
    #: Where it is cached with its training rows (``learned_training``), if anywhere.
    learned_path: Path | None = None
    _bm25: Any = field(default=None, repr=False)
    _row: dict[str, int] = field(default_factory=dict, repr=False)
    _terms: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _frequency: dict[str, int] = field(default_factory=dict, repr=False)

    def row(self, decision_id: str) -> int:
        if not self._row:
            self._row.update({d: i for i, d in enumerate(self.ids)})
        return self._row[decision_id]

    def dense(self, query_vector: Any) -> Any:
        """Cosine of the query with every card (its text, its title or a phrasing)."""
        import numpy as np

        scores = self.vectors @ query_vector
        if len(self.phrase_owner):
            phrased = self.phrase_vectors @ query_vector
            np.maximum.at(scores, self.phrase_owner, phrased)
        return scores

    def learned_log_proba(self, query_vector: Any) -> Any:
        """Log-probability of every card under the learned card model (uniform without one)."""
        import numpy as np

        if self.learned is None:
            return np.full(len(self.ids), -math.log(max(len(self.ids), 1)))
        return self.learned.log_proba(query_vector)

    def keyword(self, text: str) -> Any:
        """BM25 of ``text`` against every card, divided by the best (0..1)."""
        import numpy as np

        out = np.zeros(len(self.ids), dtype=np.float32)
        if self._bm25 is None:
            return out
        tokens = [t for t in dict.fromkeys(tokenize(text)) if t in self._bm25.vocab_dict]
        if not tokens:
            return out
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        top = float(scores.max())
        return scores / top if top > 0 else out

    def prototype_neighbours(self, query_vector: Any, k: int) -> dict[str, float]:
        """Mean cosine of the query with the ``k`` nearest exemplars of each prototype
        class: a vote of several exemplars moves less with the wording than the best one."""
        import numpy as np

        out: dict[str, float] = {}
        if not len(self.prototype_labels):
            return out
        sims = np.asarray(self.prototype_vectors @ query_vector, dtype=np.float64)
        labels = np.asarray(self.prototype_labels)
        for label in dict.fromkeys(self.prototype_labels):
            best = np.sort(sims[labels == label])[::-1][:k]
            out[label] = float(best.mean())
        return out

    def card_terms(self, decision_id: str) -> frozenset[str]:
        """The BM25 tokens of one card (title, recommendation, when, trade-offs, phrasings)."""
        if not self._terms:
            for d in self.decisions:
                self._terms[d.id] = frozenset(tokenize(card_keyword_text(d)))
        return self._terms.get(decision_id, frozenset())

    def card_frequency(self, term: str) -> int:
        """How many cards use ``term`` (for IDF weights)."""
        if not self._frequency:
            for d in self.decisions:
                for t in self.card_terms(d.id):
                    self._frequency[t] = self._frequency.get(t, 0) + 1
        return self._frequency.get(term, 0)

    def similarity(self, a: str, b: str) -> float:
        return float(self.vectors[self.row(a)] @ self.vectors[self.row(b)])

    def prototype_scores(self, query_vector: Any) -> dict[str, float]:
        """Best cosine of the query with each prototype class; ``cards`` is the best card."""
        out: dict[str, float] = {"cards": float((self.vectors @ query_vector).max())}
        if len(self.prototype_labels):
            sims = self.prototype_vectors @ query_vector
            for label, sim in zip(self.prototype_labels, sims.tolist(), strict=True):
                out[label] = max(out.get(label, -1.0), float(sim))
        return out


def _content_hash(catalogue: Catalogue, prototypes: Prototypes, embedder: Embedder) -> str:
    h = hashlib.sha256()
    h.update(f"{CACHE_VERSION}\0{embedder.name}\0{embedder.dimension}\0".encode())
    for d in catalogue.by_topic():
        h.update(card_text(d).encode() + b"\0" + "\0".join(d.asked_as).encode() + b"\1")
    for path in sorted(catalogue.documents):
        h.update(catalogue.documents[path].body.encode() + b"\2")
    h.update(json.dumps(prototypes.classes, sort_keys=True).encode())
    return h.hexdigest()[:24]


def corpus_sentences(catalogue: Catalogue) -> list[str]:
    found: dict[str, str] = {}
    for doc in catalogue.documents.values():
        for paragraph in doc.body.split("\n\n"):
            for s in sentences(paragraph):
                found.setdefault(sentence_key(s), s)
    return list(found.values())


def build_card_index(
    catalogue: Catalogue, embedder: Embedder, cache_dir: Path | None = None
) -> CardIndex:
    """The card index of ``catalogue``; vectors come from ``cache_dir`` when its content
    hash matches, otherwise they are embedded (batched) and saved there."""
    import numpy as np

    prototypes = load_prototypes()
    decisions = catalogue.by_topic()
    ids = [d.id for d in decisions]
    # A card's title alone is matched too: short asks ("managed k8s") name a card the way
    # its title does, and the long card text dilutes them.
    phrases = [(i, p) for i, d in enumerate(decisions) for p in [d.title, *d.asked_as]]
    sents, vocabulary, keyword_tokens = _derived_text(catalogue, decisions, cache_dir)
    protos = prototypes.texts()
    key = _content_hash(catalogue, prototypes, embedder)
    cached = _load(cache_dir / f"{key}.npz") if cache_dir else None
    if cached is not None and cached["sentences"].shape[0] == len(sents):
        vectors, phrase_vectors = cached["cards"], cached["phrases"]
        sentence_matrix, proto_vectors = cached["sentences"], cached["prototypes"]
    else:
        def embed(texts: Sequence[str]) -> Any:
            if not texts:
                return np.zeros((0, embedder.dimension), dtype=np.float32)
            return np.asarray(embedder.embed_documents(list(texts)), dtype=np.float32)

        vectors = embed([card_text(d) for d in decisions])
        phrase_vectors = embed([p for _, p in phrases])
        sentence_matrix = embed(sents)
        proto_vectors = embed([t for _, t in protos])
        if cache_dir is not None:
            _save(cache_dir / f"{key}.npz", cards=vectors, phrases=phrase_vectors,
                  sentences=sentence_matrix, prototypes=proto_vectors)
    bm25 = card_bm25([tokens or ["\u2205"] for tokens in keyword_tokens], cache_dir)
    known = {p: phrase_vectors[i] for i, (_, p) in enumerate(phrases)}
    known.update({sentence_key(s): sentence_matrix[i] for i, s in enumerate(sents)})
    learned, learned_path = learned_card_model(catalogue, decisions, embedder, known, key,
                                               cache_dir)
    return CardIndex(
        ids=ids,
        decisions=decisions,
        vectors=vectors,
        phrase_vectors=phrase_vectors,
        phrase_owner=np.asarray([i for i, _ in phrases], dtype=np.int64),
        sentence_vectors={
            sentence_key(s): sentence_matrix[i] for i, s in enumerate(sents)
        },
        prototype_labels=[label for label, _ in protos],
        prototype_vectors=proto_vectors,
        vocabulary=frozenset(vocabulary),
        embedder=embedder.name,
        learned=learned,
        learned_path=learned_path,
        _bm25=bm25,
    )


def training_matrix(
    texts: Sequence[TrainingText], embedder: Embedder, known: dict[str, Any]
) -> Any:
    """Unit vectors of the training texts: those already embedded for the index (titles,
    phrasings, corpus sentences, found by text or ``sentence_key``) are reused; the rest
    are embedded in one batch."""
    import numpy as np

    found = [known.get(t.text, known.get(sentence_key(t.text))) for t in texts]
    missing = [t.text for t, v in zip(texts, found, strict=True) if v is None]
    fresh: Any = iter(np.asarray(embedder.embed_documents(missing), dtype=np.float32)
                 if missing else [])
    rows = [v if v is not None else next(fresh) for v in found]
    if not rows:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([np.asarray(r, dtype=np.float32) for r in rows])


def learned_card_model(
    catalogue: Catalogue,
    decisions: list[Decision],
    embedder: Embedder,
    known: dict[str, Any],
    content_key: str,
    cache_dir: Path | None,
) -> tuple[CardModel | None, Path | None]:
    """The card model for this catalogue and embedder: read from ``cache_dir`` when fitted
    for the same content, model version and penalty, else fitted (seconds) and saved there
    with its training rows (``learned_training`` reads them back)."""
    import numpy as np

    from assistant.retrieval import card_model

    if not decisions:
        return None, None
    h = hashlib.sha256(f"{content_key}\0{card_model.MODEL_VERSION}\0{card_model.L2}".encode())
    # Trade-offs and avoid_when train the model but are not in the index's content key.
    for d in decisions:
        h.update(d.model_dump_json().encode())
    path = cache_dir / f"learned-{h.hexdigest()[:24]}.npz" if cache_dir else None
    if path is not None:
        try:
            with np.load(path) as data:
                model = CardModel.from_arrays(data)
            if model.adapter.shape == (embedder.dimension, len(decisions)):
                return model, path
        except (OSError, ValueError, KeyError):
            pass  # missing or unreadable: fit again
    texts = training_texts(catalogue, decisions, sentences)
    x = training_matrix(texts, embedder, known)
    y = np.asarray([t.card for t in texts], dtype=np.int64)
    model = card_model.fit(x, y, len(decisions), card_model.L2)
    if path is not None:
        kinds = np.asarray([card_model.KINDS.index(t.kind) for t in texts], dtype=np.int64)
        _save(path, **model.arrays(), train_x=x, train_y=y, train_kind=kinds)
    return model, path


def learned_training(path: Path) -> tuple[Any, Any, list[str]]:
    """The training rows (vectors, card rows, kinds) saved with a cached card model."""
    import numpy as np

    from assistant.retrieval.card_model import KINDS

    with np.load(path) as data:
        return data["train_x"], data["train_y"], [KINDS[int(k)] for k in data["train_kind"]]


def _derived_text(
    catalogue: Catalogue, decisions: list[Decision], cache_dir: Path | None
) -> tuple[list[str], set[str], list[list[str]]]:
    """The documents' sentences, the knowledge base's vocabulary and each card's keyword
    tokens: pure functions of the texts, cached as JSON under ``cache_dir`` by their
    hash (computing them was 80 ms of every cold ``kubeplan ask``)."""
    texts = [card_keyword_text(d) for d in decisions]
    bodies = [catalogue.documents[path].body for path in sorted(catalogue.documents)]
    h = hashlib.sha256(f"text{CACHE_VERSION}".encode())
    for text in [*texts, "\3", *bodies]:
        h.update(text.encode() + b"\0")
    path = cache_dir / f"text-{h.hexdigest()[:24]}.json" if cache_dir else None
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if len(data["keyword_tokens"]) == len(texts):
                return data["sentences"], set(data["vocabulary"]), data["keyword_tokens"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing or unreadable: compute again
    sents = corpus_sentences(catalogue)
    keyword_tokens = [tokenize(text) for text in texts]
    vocabulary = {t for body in bodies for t in tokenize(body)}
    vocabulary |= {t for tokens in keyword_tokens for t in tokens}
    if path is not None:
        data = {"sentences": sents, "vocabulary": sorted(vocabulary),
                "keyword_tokens": keyword_tokens}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.json")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only data dir only costs computing them next time
    return sents, vocabulary, keyword_tokens


def card_bm25(corpus: list[list[str]], cache_dir: Path | None) -> Any:
    """A BM25 index over the cards' token lists: the one saved under ``cache_dir`` for
    exactly these tokens, else built with bm25s (and saved there for the next start)."""
    key = hashlib.sha256(json.dumps(corpus).encode()).hexdigest()[:24]
    folder = cache_dir / f"bm25-{key}" if cache_dir else None
    if folder is not None and folder.is_dir():
        try:
            saved = SavedBm25.load(folder)
            if saved.consistent(len(corpus)):
                return saved
        except (OSError, ValueError, KeyError):
            pass  # unreadable: build it again
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    if folder is not None:
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            bm25.save(str(tmp), show_progress=False)
            os.replace(tmp, folder)
        except OSError:
            pass  # read-only, or another process saved it first: built again next time
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return bm25


def _load(path: Path) -> dict[str, Any] | None:
    import numpy as np

    try:
        with np.load(path) as data:
            return {k: data[k] for k in ("cards", "phrases", "sentences", "prototypes")}
    except (OSError, ValueError, KeyError):
        return None


def _save(path: Path, **arrays: Any) -> None:
    """Atomic: a reader sees the old file or the new one. A read-only data dir only
    costs the re-embedding next time."""
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        return
