"""Keyword (BM25) search and its on-disk index that follows the store's generation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.index.keyword import (
    KeywordIndex,
    KeywordIndexes,
    SavedBm25,
    index_dir,
    stem,
    tokenize,
)
from assistant.schemas import Chunk

REPO = Path(__file__).resolve().parent.parent.parent


def chunk(cid: str, text: str, topic: str = "capacity", path: str = "a.md") -> Chunk:
    return Chunk(
        id=cid, text=text, collection="c", path=path, title="Doc", content_hash=cid, topic=topic
    )


CHUNKS = [
    chunk("1", "Run three or five etcd members so quorum survives a failure.", "availability"),
    chunk("2", "Spot instances cost less; batch jobs tolerate interruptions.", "capacity"),
    chunk("3", "Namespaces per team with quotas and network policies.", "tenancy"),
]


class CountingStore:
    """The part of a VectorStore the keyword index reads, counting full scans."""

    def __init__(self, chunks: list[Chunk], generation: str | None = "g1") -> None:
        self.chunks = chunks
        self.generation = generation
        self.scans = 0
        self.meta_reads = 0

    def iter_chunks(self, collection: str, batch_size: int = 1000) -> Iterator[Chunk]:
        self.scans += 1
        yield from self.chunks

    def get_meta(self, collection: str) -> dict[str, Any]:
        self.meta_reads += 1
        return {"generation": self.generation} if self.generation else {}

    def count(self, collection: str) -> int:
        return len(self.chunks)


def test_tokenize_folds_plurals_and_drops_stopwords() -> None:
    tokens = tokenize("How many etcd members should we run?")
    assert "etcd" in tokens and stem("members") in tokens and stem("members") == stem("member")
    assert not {"how", "should", "we"} & set(tokens)
    assert stem("isolation") == stem("isolate")
    assert tokenize("GPUs") == tokenize("gpu")


def test_search_ranks_the_passage_with_the_query_terms_first() -> None:
    index = KeywordIndex.build(CHUNKS, "g")
    hits = index.search("how many etcd members", k=3)
    assert [h.chunk.id for h in hits] == ["1"]
    assert hits[0].score > 0


def test_search_filters_on_metadata_and_ignores_unknown_words() -> None:
    index = KeywordIndex.build(CHUNKS, "g")
    assert [h.chunk.id for h in index.search("spot namespaces", 5)] != []
    only = index.search("spot namespaces", 5, where={"topic": "tenancy"})
    assert [h.chunk.id for h in only] == ["3"]
    assert index.search("sourdough bread", 5) == []
    assert index.search("the and of", 5) == []


def test_empty_index_finds_nothing() -> None:
    assert KeywordIndex.build([], "g").search("etcd", 3) == []


def test_save_and_load_give_the_same_results(tmp_path: Path) -> None:
    index = KeywordIndex.build(CHUNKS, "g7")
    index.save(tmp_path / "idx")
    loaded = KeywordIndex.load(tmp_path / "idx")
    assert loaded is not None and loaded.generation == "g7"
    assert loaded.search("spot batch", 3) == index.search("spot batch", 3)
    assert KeywordIndex.load(tmp_path / "missing") is None


def test_index_is_rebuilt_only_when_the_generation_changes(tmp_path: Path) -> None:
    store = CountingStore(list(CHUNKS))
    indexes = KeywordIndexes(store, tmp_path)  # type: ignore[arg-type]
    assert indexes.search("c", "etcd", 3)[0].chunk.id == "1"
    assert indexes.search("c", "spot", 3)[0].chunk.id == "2"
    assert store.scans == 1
    assert (index_dir(tmp_path, "c") / "meta.json").is_file()

    # A new process reads the saved index instead of scanning the store.
    fresh = KeywordIndexes(store, tmp_path)  # type: ignore[arg-type]
    fresh.search("c", "etcd", 3)
    assert store.scans == 1

    # An ingest that changed something sets a new generation: the index follows.
    store.chunks.append(chunk("4", "Vault issues dynamic secrets.", "secrets"))
    store.generation = "g2"
    assert fresh.search("c", "vault secrets", 3)[0].chunk.id == "4"
    assert store.scans == 2


def test_collections_without_a_generation_rebuild_when_their_size_changes(
    tmp_path: Path,
) -> None:
    store = CountingStore(list(CHUNKS), generation=None)
    indexes = KeywordIndexes(store, tmp_path)  # type: ignore[arg-type]
    indexes.search("c", "etcd", 3)
    store.chunks.append(chunk("4", "Vault issues dynamic secrets.", "secrets"))
    assert indexes.search("c", "vault", 3)[0].chunk.id == "4"
    assert store.scans == 2


def corpus_chunks() -> list[Chunk]:
    """Paragraphs of every bundled corpus document, as chunks."""
    paragraphs = [
        (path, para)
        for path in sorted((REPO / "corpus").rglob("*.md"))
        for para in path.read_text(encoding="utf-8").split("\n\n")
        if len(para) > 80
    ]
    return [chunk(f"{i:05d}", para, path=path.name) for i, (path, para) in enumerate(paragraphs)]


QUERIES = [
    "How many etcd members should we run?",
    "spot instances for nightly batch jobs and stateless web services",
    "namespaces or separate clusters per team for PCI workloads",
    "Which CNI for an on-prem cluster with BGP?",
    "keep secrets out of Git with Argo CD; Vault or AWS Secrets Manager",
    "GPU nodes for ML training",
    "ingress controller or Gateway API gateway gateway",
    "nothing-matches-this-word",
]


def test_saved_index_scores_and_ranks_like_bm25s_on_the_bundled_corpus(tmp_path: Path) -> None:
    import numpy as np

    built = KeywordIndex.build(corpus_chunks(), "g1")
    assert len(built.chunks) > 500
    built.save(tmp_path / "idx")
    loaded = KeywordIndex.load(tmp_path / "idx")
    assert loaded is not None and isinstance(loaded._bm25, SavedBm25)
    assert type(built._bm25).__module__.startswith("bm25s")
    for query in QUERIES:
        tokens = list(dict.fromkeys(t for t in tokenize(query) if t in built._bm25.vocab_dict))
        if tokens:
            ours, theirs = loaded._bm25.get_scores(tokens), built._bm25.get_scores(tokens)
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
        assert loaded.search(query, 30) == built.search(query, 30)
        assert loaded.search(query, 10, curated_only=True) == built.search(
            query, 10, curated_only=True
        )


def test_a_saved_index_answers_without_importing_bm25s_or_scipy(tmp_path: Path) -> None:
    import subprocess
    import sys

    KeywordIndex.build(CHUNKS, "g1").save(tmp_path / "idx")
    probe = (
        "import sys; from pathlib import Path; from assistant.index.keyword import KeywordIndex; "
        f"i = KeywordIndex.load(Path({str(tmp_path / 'idx')!r})); "
        "print([h.chunk.id for h in i.search('etcd quorum', 3)], "
        "'bm25s' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.split() == ["['1']", "False", "False"]


def test_a_torn_saved_index_is_not_used(tmp_path: Path) -> None:
    KeywordIndex.build(CHUNKS, "g1").save(tmp_path / "idx")
    (tmp_path / "idx" / "bm25" / "indptr.csc.index.npy").write_bytes(b"not numpy")
    assert KeywordIndex.load(tmp_path / "idx") is None


def test_a_published_generation_is_checked_once(tmp_path: Path) -> None:
    store = CountingStore(list(CHUNKS))
    indexes = KeywordIndexes(store, tmp_path)  # type: ignore[arg-type]
    first, second = "c__g0123456789abcdef", "c__gfedcba9876543210"
    assert indexes.get("c", first).search("etcd", 3)[0].chunk.id == "1"
    reads = store.meta_reads
    for _ in range(3):
        assert indexes.get("c", first).search("etcd", 3)[0].chunk.id == "1"
    # A published generation never changes in place: no store read once it is loaded.
    assert store.meta_reads == reads and store.scans == 1
    # The pointer moved: the new generation's marker is read, and followed.
    store.chunks.append(chunk("4", "Vault issues dynamic secrets.", "secrets"))
    store.generation = "g2"
    assert indexes.get("c", second).search("vault", 3)[0].chunk.id == "4"
    assert store.meta_reads > reads and store.scans == 2
    # A collection without a pointer may change in place: its marker is read each time.
    reads = store.meta_reads
    indexes.get("c")
    indexes.get("c")
    assert store.meta_reads == reads + 2
