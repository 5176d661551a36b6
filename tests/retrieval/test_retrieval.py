"""Hybrid retrieval: fusion, duplicates, caps, filters, errors, and the numpy query encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import CollectionNotFoundError, InputError
from assistant.retrieval.passages import (
    Passage,
    cap_per_document,
    collapse_near_duplicates,
    fuse,
    reciprocal_rank_fusion,
)
from assistant.schemas import Chunk, ScoredChunk
from tests.chain_support import fixture_assistant


def chunk(cid: str, text: str, path: str = "a.md", content_hash: str | None = None) -> Chunk:
    return Chunk(
        id=cid, text=text, collection="c", path=path, title="Doc",
        content_hash=content_hash or cid,
    )


def passage(c: Chunk, score: float = 1.0) -> Passage:
    return Passage(chunk=c, score=score)


def test_rrf_rewards_agreement_and_normalises_to_one() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["a", "c"]])
    assert fused["a"] == pytest.approx(1.0)
    assert fused["c"] > fused["b"]
    assert reciprocal_rank_fusion([]) == {}


def test_near_duplicates_collapse_to_the_first() -> None:
    text = "Run three etcd members across three zones so quorum survives one failure."
    kept = collapse_near_duplicates(
        [
            passage(chunk("1", text)),
            passage(chunk("2", text + " Indeed.")),
            passage(chunk("3", "Other text", content_hash="1")),
            passage(chunk("4", "Spot nodes suit batch jobs that retry.")),
        ]
    )
    assert [p.chunk.id for p in kept] == ["1", "4"]


def test_one_document_gives_at_most_three_passages() -> None:
    many = [passage(chunk(str(i), f"text {i}", path="big.md")) for i in range(6)]
    other = passage(chunk("x", "other", path="small.md"))
    kept = cap_per_document([*many, other])
    assert [p.chunk.id for p in kept] == ["0", "1", "2", "x"]


def test_fuse_puts_a_passage_both_retrievers_found_first() -> None:
    a, b, c = (chunk(i, f"distinct words number {i} " * (int(i) + 1)) for i in "123")
    dense = [ScoredChunk(chunk=a, score=0.9), ScoredChunk(chunk=b, score=0.8)]
    keyword = [ScoredChunk(chunk=b, score=5.0), ScoredChunk(chunk=c, score=4.0)]
    fused = fuse(dense, keyword, k=2)
    assert [p.chunk.id for p in fused] == ["2", "1"]
    assert fused[0].dense == 0.8 and fused[0].keyword == 5.0
    assert fused[1].keyword is None


def test_retrieve_finds_the_passage_and_fills_sources(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    sources = a.retrieve("how many etcd members for quorum", k=3)
    assert sources[0].decision_ids == ["availability.etcd-odd-members"]
    top = sources[0]
    assert top.path == "availability/etcd.md" and top.url == "https://example.org/etcd"
    assert "Run three or five etcd members" in top.section
    assert len(sources) <= 3 and top.score >= sources[-1].score


def test_topic_filter_keeps_only_that_topic(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    sources = a.retrieve("etcd members spot nodes namespaces", k=8, topic="tenancy")
    assert sources and {s.topic for s in sources} == {"tenancy"}


def test_missing_collection_tells_the_user_to_ingest(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    with pytest.raises(CollectionNotFoundError) as err:
        a.retrieve("etcd", collection="never-ingested")
    assert "kubeplan ingest" in (err.value.fix or "")


def test_empty_query_and_bad_k_are_input_errors(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    with pytest.raises(InputError):
        a.retrieve("   ")
    with pytest.raises(InputError):
        a.retriever.search("etcd", 0)


@pytest.mark.slow
def test_numpy_query_encoder_matches_the_torch_model(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from assistant.index.query_encoder import FastQueryEmbedder, fast_query_embedder

    base = corpus_assistant.embedder
    fast = fast_query_embedder(base)
    assert isinstance(fast, FastQueryEmbedder)
    for text in ["How many etcd members?", "Spot instances for batch jobs on EKS, ok?", "x"]:
        a = np.array(base.embed_documents([text])[0])
        b = np.array(fast.embed_query(text))
        assert float(a @ b) > 0.9999


def test_decision_passages_are_the_decisions_own_section(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    found = a.retriever.decision_passages(["tenancy.separate-clusters", "no.such-decision"])
    assert found and all(p.chunk.decision_ids == ["tenancy.separate-clusters"] for p in found)
    assert all(p.score == 0.0 for p in found)


def test_models_without_a_numpy_path_keep_their_own_query_embedding() -> None:
    from assistant.index.embedding import FakeEmbedder
    from assistant.index.query_encoder import fast_query_embedder, supports

    fake = FakeEmbedder()
    assert fast_query_embedder(fake) is fake
    assert not supports(Path("/nonexistent"))
