"""The cards' BM25 index: built with bm25s once per card text, then read without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.index.keyword import SavedBm25, tokenize
from assistant.ingest.catalogue import load_catalogue
from assistant.retrieval.cards import (
    CardIndex,
    card_bm25,
    card_keyword_text,
    load_prototypes,
    nearest_word,
)

CORPUS = Path(__file__).resolve().parent.parent.parent / "corpus"


def test_card_bm25_is_saved_once_and_scores_like_bm25s(tmp_path: Path) -> None:
    decisions = load_catalogue(CORPUS).by_topic()
    corpus = [tokenize(card_keyword_text(d)) or ["\u2205"] for d in decisions]
    built = card_bm25(corpus, tmp_path)
    assert type(built).__module__.startswith("bm25s")
    saved = card_bm25(corpus, tmp_path)
    assert isinstance(saved, SavedBm25)
    for question in ("How many etcd members?", "spot instances for batch", "GitOps secrets"):
        tokens = [t for t in dict.fromkeys(tokenize(question)) if t in built.vocab_dict]
        assert np.array_equal(saved.get_scores(tokens), built.get_scores(tokens))
    # Other card texts are another index, not a stale one.
    assert type(card_bm25(corpus[:-1], tmp_path)).__module__.startswith("bm25s")
    assert len(list(tmp_path.glob("bm25-*"))) == 2


def test_prototypes_load() -> None:
    prototypes = load_prototypes()
    assert prototypes.classes and all(prototypes.classes.values())


def test_derived_texts_come_back_from_the_cache_unchanged(tmp_path: Path) -> None:
    from assistant.retrieval.cards import _derived_text, corpus_sentences

    catalogue = load_catalogue(CORPUS)
    decisions = catalogue.by_topic()
    computed = _derived_text(catalogue, decisions, None)
    first = _derived_text(catalogue, decisions, tmp_path)
    assert len(list(tmp_path.glob("text-*.json"))) == 1
    again = _derived_text(catalogue, decisions, tmp_path)
    assert computed == first == again
    sentences, vocabulary, keyword_tokens = again
    assert sentences == corpus_sentences(catalogue)
    assert keyword_tokens == [tokenize(card_keyword_text(d)) for d in decisions]
    assert set(keyword_tokens[0]) <= vocabulary
    # Another card text is another key: nothing stale is served.
    changed = [decisions[0].model_copy(update={"tradeoffs": ["zebra crossing"]}), *decisions[1:]]
    assert "zebra" in _derived_text(catalogue, changed, tmp_path)[1]


def _small_index() -> CardIndex:
    from assistant.schemas import Decision

    decisions = [
        Decision(id=f"t.card-{i}", title=title, recommendation="Use it where it fits.",
                 when=["small team"], avoid_when=[], tradeoffs=["cost"], alternatives=[],
                 sources=["https://example.org/x"], topic="t")
        for i, title in enumerate(["Run etcd on three members", "Spread etcd over zones"])
    ]
    vectors = np.eye(4, dtype=np.float32)[:2]
    protos = np.asarray([[0, 0, 1, 0], [0, 0, 0.6, 0.8], [0, 0, 0, 1]], dtype=np.float32)
    return CardIndex(
        ids=[d.id for d in decisions], decisions=decisions, vectors=vectors,
        phrase_vectors=np.zeros((0, 4), dtype=np.float32),
        phrase_owner=np.zeros(0, dtype=np.int64), sentence_vectors={},
        prototype_labels=["live", "live", "private"], prototype_vectors=protos,
        vocabulary=frozenset({"etcd", "members", "cluster", "zones"}),
    )


def test_nearest_word_maps_a_misspelling_to_the_vocabulary_word() -> None:
    vocab = frozenset({"cluster", "region", "running", "members"})
    assert nearest_word("clsuter", vocab) == "cluster"
    assert nearest_word("regoin", vocab) == "region"
    assert nearest_word("runing", vocab) == "running"
    assert nearest_word("cluster", vocab) == "cluster"
    assert nearest_word("hyperdrive", vocab) is None
    assert nearest_word("wich", vocab) is None  # too short to tell from another word


def test_card_terms_and_frequencies_count_cards_not_occurrences() -> None:
    index = _small_index()
    assert "etcd" in index.card_terms("t.card-0")
    assert index.card_frequency("etcd") == 2
    assert index.card_frequency("zone") == 1  # tokens are stemmed like the BM25 index
    assert index.card_frequency("hyperdrive") == 0
    assert index.card_terms("t.unknown") == frozenset()


def test_prototype_neighbours_average_the_k_nearest_exemplars() -> None:
    index = _small_index()
    query = np.asarray([0, 0, 1, 0], dtype=np.float32)
    assert index.prototype_neighbours(query, 1) == {"live": 1.0, "private": 0.0}
    two = index.prototype_neighbours(query, 2)
    assert two["live"] == np.float32(0.8) or abs(two["live"] - 0.8) < 1e-6
    # Fewer exemplars than k: the mean of those there are.
    assert abs(index.prototype_neighbours(query, 5)["private"]) < 1e-9
