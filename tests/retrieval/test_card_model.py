"""The card model learned from the catalogue's own texts: training texts, the softmax
fit, its cache beside the card vectors, and how it ranks held-back phrasings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.chain.api import Assistant
from assistant.index.embedding import FakeEmbedder
from assistant.ingest.catalogue import load_catalogue
from assistant.retrieval import card_model
from assistant.retrieval.cards import build_card_index, learned_training, sentences
from tests.chain_support import FIXTURE_CORPUS

REPO = Path(__file__).resolve().parent.parent.parent


def _planted(seed: int, n_per: int, k: int = 6, dim: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random direction per class; every class shares a large
    common component, so raw cosines are close and only the class parts separate them."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=dim)
    protos = np.random.default_rng(7).normal(size=(k, dim))
    y = np.repeat(np.arange(k), n_per)
    x = 2.0 * common + protos[y] + 0.3 * rng.normal(size=(len(y), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_fit_recovers_a_planted_mapping() -> None:
    x, y = _planted(0, 40)
    model = card_model.fit(x, y, 6, l2=1e-3)
    qx, qy = _planted(1, 30)
    predicted = np.asarray([int(np.argmax(model.log_proba(q))) for q in qx])
    assert np.mean(predicted == qy) >= 0.9
    logp = model.log_proba(qx[0])
    assert logp.shape == (6,) and np.isclose(np.exp(logp).sum(), 1.0)


def test_fit_is_deterministic() -> None:
    x, y = _planted(2, 20)
    a, b = card_model.fit(x, y, 6, 1e-3), card_model.fit(x, y, 6, 1e-3)
    for key, value in a.arrays().items():
        assert np.array_equal(value, b.arrays()[key]), key


def test_a_stronger_penalty_keeps_the_adapter_smaller() -> None:
    x, y = _planted(3, 20)
    loose, tight = card_model.fit(x, y, 6, 1e-4), card_model.fit(x, y, 6, 1.0)
    assert np.abs(tight.adapter).sum() < np.abs(loose.adapter).sum()
    assert card_model.choose_l2({0.1: -1.0, 1.0: -1.0, 0.01: -2.0}) == 1.0


def test_training_texts_cover_every_card_with_its_own_section() -> None:
    catalogue = load_catalogue(REPO / "corpus")
    decisions = catalogue.by_topic()
    sections = card_model.section_texts(catalogue)
    assert len(sections) == len(decisions)
    assert "eBPF" in sections["networking.cilium"]
    assert "Hubble" not in sections["networking.cloud-vpc-cni"]
    texts = card_model.training_texts(catalogue, decisions, sentences)
    assert {t.card for t in texts} == set(range(len(decisions)))
    assert {t.kind for t in texts} == set(card_model.KINDS)
    for t in texts:
        d = decisions[t.card]
        if t.kind == "title":
            assert t.text == d.title
        if t.kind == "asked":
            assert t.text in d.asked_as
    # Short conditions ("AWS") name no card by themselves: they are left out.
    assert all(len(t.text.split()) >= card_model.MIN_CONDITION_WORDS
               for t in texts if t.kind in ("when", "avoid"))


def test_the_model_is_cached_by_content_and_refit_when_a_card_changes(tmp_path: Path) -> None:
    catalogue = load_catalogue(FIXTURE_CORPUS)
    embedder = FakeEmbedder()
    first = build_card_index(catalogue, embedder, tmp_path)
    assert first.learned is not None and first.learned_path is not None
    embedded = embedder.texts_embedded
    again = build_card_index(catalogue, embedder, tmp_path)
    assert embedder.texts_embedded == embedded  # nothing embedded, nothing refitted
    assert again.learned_path == first.learned_path
    assert again.learned is not None
    assert np.array_equal(again.learned.adapter, first.learned.adapter)
    # A trade-off is not in the card vectors' key, but it trains the model.
    did = sorted(catalogue.decisions)[0]
    changed = catalogue.decisions[did].model_copy(update={"tradeoffs": ["costs a lot more"]})
    edited = catalogue.model_copy(update={"decisions": {**catalogue.decisions, did: changed}})
    refit = build_card_index(edited, embedder, tmp_path)
    assert refit.learned_path != first.learned_path
    assert refit.learned_path is not None and refit.learned is not None
    x, y, kinds = learned_training(refit.learned_path)
    assert len(x) == len(y) == len(kinds) and "tradeoff" in kinds
    assert not np.array_equal(refit.learned.adapter, first.learned.adapter)


def test_without_a_cache_dir_the_model_is_fitted_in_memory() -> None:
    index = build_card_index(load_catalogue(FIXTURE_CORPUS), FakeEmbedder(), None)
    assert index.learned is not None and index.learned_path is None
    q = index.vectors[0]
    assert index.learned_log_proba(q).shape == (len(index.ids),)


def test_real_catalogue_held_back_phrasings_rank_their_card_first(
    corpus_assistant: Assistant,
) -> None:
    """Fitted without the cards' ``asked_as`` phrasings, the model puts a phrasing's card
    first for most of them, and more often than cosine with the card's own text does."""
    index = corpus_assistant.card_index()
    assert index.learned_path is not None
    x, y, kinds = learned_training(index.learned_path)
    right, rank = card_model.held_out_log_proba(x, y, kinds, len(index.ids), card_model.L2)
    held = np.asarray([k == "asked" for k in kinds])
    cosine_first = np.argmax(x[held] @ index.vectors.T, axis=1) == y[held]
    assert np.mean(rank == 0) >= 0.6
    assert right.mean() > -2.0  # uniform over 185 cards would be -5.2
    assert np.mean(rank < 5) >= 0.85
    assert np.mean(rank == 0) > np.mean(cosine_first)


@pytest.mark.parametrize("kind", ["title", "recommendation"])
def test_real_catalogue_model_knows_its_training_texts(
    corpus_assistant: Assistant, kind: str
) -> None:
    index = corpus_assistant.card_index()
    assert index.learned is not None and index.learned_path is not None
    x, y, kinds = learned_training(index.learned_path)
    rows = [i for i, k in enumerate(kinds) if k == kind]
    first = [int(np.argmax(index.learned.log_proba(x[i]))) == int(y[i]) for i in rows]
    assert np.mean(first) >= 0.9
