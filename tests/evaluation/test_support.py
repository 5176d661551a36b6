"""Semantic citation support: sentence split, threshold fit, the judge, the stored fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import InputError
from assistant.evaluation.support import (
    THRESHOLD_FILE,
    SupportJudge,
    SupportPair,
    balanced_accuracy,
    best_similarity,
    fit_support,
    fit_threshold,
    load_pairs,
    load_threshold,
    sentences,
)
from assistant.index.embedding import FakeEmbedder
from tests.conftest import REPO

PAIRS_FILE = REPO / "evals" / "support-pairs.yaml"


def test_sentences_drop_markup_and_short_fragments() -> None:
    text = ("## Etcd\nRun three **etcd** members across zones. Yes. "
            "Five members survive two failures!")
    assert sentences(text) == ["Etcd Run three etcd members across zones.",
                               "Five members survive two failures!"]
    assert sentences("tiny") == ["tiny"]
    assert sentences("") == []


def test_best_similarity_takes_the_closest_sentence() -> None:
    claim = np.array([1.0, 0.0])
    rows = np.array([[0.0, 2.0], [3.0, 3.0]])
    assert best_similarity(claim, rows) == pytest.approx(1 / np.sqrt(2))
    assert best_similarity(claim, np.zeros((0, 2))) == 0.0


def test_fit_maximises_balanced_accuracy_between_the_classes() -> None:
    sims = [0.9, 0.8, 0.7, 0.45, 0.6, 0.3, 0.2, 0.1]
    labels = [True, True, True, True, False, False, False, False]
    fit = fit_threshold(sims, labels)
    # One positive (0.45) sits below a negative (0.6): best is 0.65 or 0.375 (both 7/8).
    assert fit.balanced_accuracy == pytest.approx(0.875)
    assert fit.threshold in (pytest.approx(0.65), pytest.approx(0.375))
    assert balanced_accuracy(sims, labels, fit.threshold) == fit.balanced_accuracy
    assert fit.pairs == 8 and fit.positives == 4
    separable = fit_threshold([0.9, 0.8, 0.2], [True, True, False])
    assert separable.threshold == pytest.approx(0.5) and separable.accuracy == 1.0


def test_fit_needs_both_labels() -> None:
    with pytest.raises(InputError, match="both supporting and non-supporting"):
        fit_threshold([0.5, 0.6], [True, True])


def test_judge_scores_the_best_sentence_with_the_embedder() -> None:
    judge = SupportJudge(FakeEmbedder(dimension=256), threshold=0.5)
    claim = "Run three etcd members across three zones."
    on = "Bananas are yellow and sweet fruit. Run three etcd members across three zones."
    off = "Bananas are yellow and sweet fruit. Apples grow on trees in orchards."
    assert judge.similarity(claim, on) == pytest.approx(1.0)
    assert judge.similarity(claim, off) < 0.5
    pairs = [SupportPair(claim=claim, sentence=on, supports=True),
             SupportPair(claim=claim, sentence=off, supports=False)]
    fit = fit_support(FakeEmbedder(dimension=256), pairs)
    assert fit.balanced_accuracy == 1.0 and fit.embedder == "fake-hash-256"


def test_the_labelled_pairs_are_many_and_balanced_enough() -> None:
    pairs = load_pairs(PAIRS_FILE)
    assert len(pairs) >= 80
    negatives = sum(1 for p in pairs if not p.supports)
    assert 0.3 <= negatives / len(pairs) <= 0.7
    assert len({(p.claim, p.sentence) for p in pairs}) == len(pairs)


def test_bad_pairs_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("pairs:\n- {claim: a, sentence: b}\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid support pair"):
        load_pairs(bad)


@pytest.mark.slow
def test_refitting_with_the_real_model_reproduces_the_stored_threshold() -> None:
    from assistant.index.embedding import SentenceTransformerEmbedder

    stored = load_threshold(THRESHOLD_FILE)
    fit = fit_support(SentenceTransformerEmbedder(), load_pairs(PAIRS_FILE),
                      "evals/support-pairs.yaml")
    assert fit.threshold == pytest.approx(stored.threshold, abs=1e-4)
    assert fit.balanced_accuracy == pytest.approx(stored.balanced_accuracy, abs=1e-4)
    assert fit.pairs == stored.pairs
    # The check must separate the labelled pairs far better than chance.
    assert stored.balanced_accuracy >= 0.7
