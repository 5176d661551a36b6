"""The cards' BM25 index: built with bm25s once per card text, then read without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.index.keyword import SavedBm25, tokenize
from assistant.ingest.catalogue import load_catalogue
from assistant.retrieval.cards import card_bm25, card_keyword_text, load_prototypes

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
