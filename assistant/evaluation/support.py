"""Does a cited passage support a recommendation? An independent semantic check.

The best sentence of the passage (by cosine similarity of all-MiniLM-L6-v2 embeddings, the
assistant's own embedder) must be at least ``threshold`` similar to the recommendation's
claim. The threshold is *fitted* on labelled (claim, sentence, supports) pairs in
``evals/support-pairs.yaml`` by maximising balanced accuracy, and stored with the fit's
accuracy in ``support_threshold.json`` next to this module (``kubeplan eval --fit-support``).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import InputError
from assistant.evaluation.cases import read_yaml
from assistant.index.embedding import Embedder
from assistant.index.query_encoder import fast_query_embedder

THRESHOLD_FILE = Path(__file__).with_name("support_threshold.json")

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"(])")


class SupportPair(BaseModel):
    """A claim, one passage sentence, and whether the sentence supports the claim."""

    model_config = ConfigDict(extra="forbid")

    claim: str = Field(min_length=1)
    sentence: str = Field(min_length=1)
    supports: bool
    note: str = ""


class ThresholdFit(BaseModel):
    """The fitted threshold and how well it separates the labelled pairs."""

    model_config = ConfigDict(extra="forbid")

    threshold: float
    balanced_accuracy: float
    accuracy: float
    pairs: int
    positives: int
    embedder: str = ""
    pairs_file: str = ""


def sentences(text: str, min_words: int = 4) -> list[str]:
    """The passage's sentences (markup dropped); the whole text when it has none."""
    clean = re.sub(r"\s+", " ", re.sub(r"[#*_>`|]+", " ", text)).strip()
    found = [s.strip() for s in _SENTENCE.split(clean) if len(s.split()) >= min_words]
    return found or ([clean] if clean else [])


def best_similarity(claim: np.ndarray, sentence_vectors: np.ndarray) -> float:
    """Largest cosine similarity between ``claim`` and any row (vectors need not be unit)."""
    if sentence_vectors.size == 0:
        return 0.0
    rows = sentence_vectors / np.maximum(np.linalg.norm(sentence_vectors, axis=1,
                                                        keepdims=True), 1e-12)
    unit = claim / max(float(np.linalg.norm(claim)), 1e-12)
    return float(np.max(rows @ unit))


def balanced_accuracy(similarities: Sequence[float], labels: Sequence[bool],
                      threshold: float) -> float:
    pos = [s for s, y in zip(similarities, labels, strict=True) if y]
    neg = [s for s, y in zip(similarities, labels, strict=True) if not y]
    tpr = sum(1 for s in pos if s >= threshold) / len(pos) if pos else 0.0
    tnr = sum(1 for s in neg if s < threshold) / len(neg) if neg else 0.0
    return (tpr + tnr) / 2


def fit_threshold(similarities: Sequence[float], labels: Sequence[bool]) -> ThresholdFit:
    """The threshold (a midpoint between neighbouring similarities) that maximises
    balanced accuracy; ties go to the middle of the best run, so the fit is stable."""
    if len(similarities) != len(labels) or not any(labels) or all(labels):
        raise InputError(
            "support pairs need both supporting and non-supporting examples.",
            "label some pairs `supports: true` and some `supports: false`.",
        )
    values = sorted(set(round(float(s), 6) for s in similarities))
    candidates = [values[0] - 1e-6]
    candidates += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    candidates.append(values[-1] + 1e-6)
    scores = [balanced_accuracy(similarities, labels, t) for t in candidates]
    best = max(scores)
    winners = [t for t, sc in zip(candidates, scores, strict=True) if sc == best]
    threshold = winners[len(winners) // 2]
    correct = sum(1 for s, y in zip(similarities, labels, strict=True) if (s >= threshold) == y)
    return ThresholdFit(
        threshold=round(threshold, 6),
        balanced_accuracy=round(best, 6),
        accuracy=round(correct / len(labels), 6),
        pairs=len(labels),
        positives=sum(1 for y in labels if y),
    )


class SupportJudge:
    """Embeds claims and passage sentences (cached by text) and scores their support.
    Pass ``fast_query_embedder(embedder)`` for speed (the runner does)."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        # One short text at a time through `embed_query`: with the numpy query encoder
        # (`fast_query_embedder`) that is a millisecond each and starts no torch threads.
        for text in dict.fromkeys(t for t in texts if t not in self._cache):
            self._cache[text] = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, claim: str, passage: str) -> float:
        """Best-sentence cosine similarity of ``passage`` to ``claim``."""
        return self.similarities([(claim, passage)])[0]

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """``similarity`` of each ``(claim, passage)``; new texts are embedded in one batch."""
        split = [(claim, sentences(passage)) for claim, passage in pairs]
        self._vectors([t for claim, parts in split for t in (claim, *parts)])
        out = []
        for claim, parts in split:
            vectors = self._vectors([claim, *parts])
            out.append(best_similarity(vectors[0], vectors[1:]))
        return out

    def pair_similarities(self, pairs: Sequence[SupportPair]) -> list[float]:
        return self.similarities([(p.claim, p.sentence) for p in pairs])


def load_pairs(path: Path) -> list[SupportPair]:
    data = read_yaml(path)
    raw = data.get("pairs") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path} holds no pairs.", "write a `pairs:` list of "
                         "{claim, sentence, supports}.")
    try:
        return [SupportPair.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise InputError(f"{path}: invalid support pair: {str(exc)[:300]}",
                         "each pair needs claim, sentence and supports (true/false).") from exc


def fit_support(embedder: Embedder, pairs: Sequence[SupportPair],
                pairs_file: str = "") -> ThresholdFit:
    """Fit the threshold on ``pairs`` with ``embedder`` (through the same query encoder
    the eval uses, so the fitted threshold applies to the eval's similarities)."""
    judge = SupportJudge(fast_query_embedder(embedder), 0.0)
    fit = fit_threshold(judge.pair_similarities(pairs), [p.supports for p in pairs])
    return fit.model_copy(update={"embedder": embedder.name, "pairs_file": pairs_file})


def load_threshold(path: Path = THRESHOLD_FILE) -> ThresholdFit:
    if not path.is_file():
        raise InputError(f"support threshold {path} does not exist.",
                         "fit it with `kubeplan eval --fit-support`.")
    try:
        return ThresholdFit.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise InputError(f"{path} is not a threshold fit: {exc}",
                         "refit it with `kubeplan eval --fit-support`.") from exc


def save_threshold(fit: ThresholdFit, path: Path = THRESHOLD_FILE) -> Path:
    path.write_text(fit.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
