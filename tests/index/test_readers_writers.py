"""Many readers, one writer, several processes on one embedded store.

The writer alternates two known corpora (A, and B = half of A); every reader observation
must be exactly A or B: never half an ingest, never an error. Loopback and local files
only. KUBEPLAN_TEST_RW_SECONDS (read at import, default 60) shortens the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.config import Settings
from assistant.errors import CollectionNotFoundError
from assistant.index.embedding import FakeEmbedder
from tests.rw_support import COLLECTION, QUERIES, make_source, run, settings_for, use_corpus

REPO = Path(__file__).resolve().parent.parent.parent
SECONDS = float(os.environ.get("KUBEPLAN_TEST_RW_SECONDS", "60"))


@pytest.mark.slow
def test_one_writer_and_eight_readers(tmp_path: Path) -> None:
    result = run(tmp_path, readers=8, seconds=SECONDS)
    print(  # the figures for the report: pytest -s shows them
        f"\nreaders/writers: {result['ingests']} ingests, {result['requests']} retrieves, "
        f"{result['observations']} observations, {len(result['errors'])} errors, "
        f"{len(result['bad'])} partial; p50 {result['p50_ms']:.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms; seen {result['seen']}"
    )
    assert result["readers_reported"] == 8 and result["writer_rc"] == 0
    assert result["errors"] == []
    assert result["bad"] == []
    assert result["ingests"] >= 2, "the writer published too little to test anything"
    # Both complete generations were observed: the readers did follow the writer.
    assert result["seen"]["a"] > 0 and result["seen"]["b"] > 0


def _cli(settings: Settings, *args: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KUBEPLAN_DATA_DIR": str(settings.data_dir),
        "KUBEPLAN_EMBEDDER": "fake",
    }
    subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        check=True,
        env=env,
        cwd=REPO,
        capture_output=True,
    )


def _ids(a: Assistant) -> set[str]:
    return {c.id for c in a.store.iter_chunks(COLLECTION)}


@pytest.mark.slow
def test_a_long_lived_reader_follows_other_processes(tmp_path: Path) -> None:
    """The running UI opened the store before anything was ingested; other processes then
    create, update, rebuild and replace it. Every retrieve after each step works and sees
    exactly the new data (it used to fail with "Nothing found on disk", or never see the
    update)."""
    src = make_source(tmp_path)
    docs = tmp_path / "docs"
    settings = settings_for(tmp_path / "data")
    reader = Assistant(settings, embedder=FakeEmbedder())
    with pytest.raises(CollectionNotFoundError) as info:
        reader.retrieve(QUERIES[0])
    assert info.value.fix and "kubeplan ingest" in info.value.fix

    use_corpus(src, docs, "a")
    _cli(settings, "ingest", str(docs))
    assert reader.retrieve(QUERIES[0], k=3)
    full = _ids(reader)
    assert reader.stats().chunks == len(full) > 0

    use_corpus(src, docs, "b")
    _cli(settings, "ingest", str(docs))
    half = _ids(reader)
    assert half < full and reader.stats().chunks == len(half)
    assert {h.id for h in reader.retrieve(QUERIES[1], k=8)} <= half

    _cli(settings, "ingest", str(docs), "--rebuild")
    assert _ids(reader) == half and reader.retrieve(QUERIES[2], k=3)

    # Another process moves the store aside and builds a new one in its place.
    (settings.store_dir / "chroma.sqlite3").write_bytes(b"")
    use_corpus(src, docs, "a")
    _cli(settings, "ingest", str(docs), "--rebuild")
    assert _ids(reader) == full and reader.retrieve(QUERIES[3], k=3)


def test_readers_saving_the_keyword_index_at_once_do_not_fail(tmp_path: Path) -> None:
    """After an ingest every reader rebuilds the keyword index and saves it to the same
    folder; the loser of that race must not fail the request (it used to, rarely)."""
    import threading

    from assistant.index.keyword import KeywordIndex, _save_shared
    from assistant.schemas import Chunk

    chunk = Chunk.model_validate(
        {
            "id": "c1",
            "text": "etcd quorum members",
            "collection": "c",
            "path": "a.md",
            "root": "/r",
            "title": "T",
            "heading_path": [],
            "ordinal": 0,
            "content_hash": "0" * 64,
            "file_hash": "f" * 64,
        }
    )
    folder = tmp_path / "keyword" / "kubeplan"
    errors: list[Exception] = []

    def save(generation: str) -> None:
        try:
            for _ in range(20):
                _save_shared(KeywordIndex.build([chunk], generation), folder)
        except Exception as exc:  # the finding
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(f"g{i % 2}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    loaded = KeywordIndex.load(folder)
    assert loaded is not None and loaded.generation in ("g0", "g1")
    assert sorted(p.name for p in folder.parent.iterdir()) == ["kubeplan"]


def test_an_index_folder_mixing_two_saves_is_not_loaded(tmp_path: Path) -> None:
    """A reader loading while another process swaps the folder could read the chunks of
    one save and the BM25 matrix of another; such a mix is rebuilt, not searched."""
    import shutil

    from assistant.index.keyword import KeywordIndex
    from assistant.schemas import Chunk

    def chunks(n: int) -> list[Chunk]:
        return [
            Chunk.model_validate(
                {
                    "id": f"c{i}",
                    "text": f"etcd quorum word{i} members{i}",
                    "collection": "c",
                    "path": "a.md",
                    "root": "/r",
                    "title": "T",
                    "heading_path": [],
                    "ordinal": i,
                    "content_hash": "0" * 64,
                    "file_hash": "f" * 64,
                }
            )
            for i in range(n)
        ]

    small, large = tmp_path / "small", tmp_path / "large"
    KeywordIndex.build(chunks(2), "g1").save(small)
    KeywordIndex.build(chunks(9), "g2").save(large)
    assert KeywordIndex.load(small) is not None
    shutil.rmtree(small / "bm25")
    shutil.copytree(large / "bm25", small / "bm25")
    assert KeywordIndex.load(small) is None
