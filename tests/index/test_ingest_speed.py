"""Ingest speed levers: location-free ids, vector reuse, deduplication, the writer thread."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.errors import StoreError
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import ingest, run_ingest
from assistant.index.ingest_speed import BackgroundWriter, IngestTuning, migrate_legacy_sources
from assistant.index.store import ChromaStore
from assistant.ingest.chunking import chunk_document, embedding_text
from assistant.ingest.loading import parse_file, read_file, walk
from tests.index.test_ingest import settings_for, state, store_of, write_tree


def _ingest(s: Settings, paths: list[Path], **kw: Any) -> tuple[Any, FakeEmbedder]:
    fake = FakeEmbedder()
    return ingest(paths, settings=s, embedder=fake, **kw), fake


def test_moved_checkout_reembeds_nothing_and_keeps_ids(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "old" / "docs")
    _ingest(s, [docs])
    before = state(s)
    assert all(source.startswith("docs/") for source in before)
    moved = tmp_path / "new" / "place" / "docs"
    moved.parent.mkdir(parents=True)
    shutil.move(docs, moved)
    report, fake = _ingest(s, [moved])
    assert fake.texts_embedded == 0 and report.chunks_embedded == 0
    assert report.chunks_added == report.chunks_deleted == report.chunks_updated == 0
    assert report.files_unchanged == 4
    assert state(s) == before


def test_renamed_root_reuses_stored_vectors(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    _ingest(s, [docs])
    n = store_of(s).count("kubeplan")
    renamed = tmp_path / "guides"
    shutil.move(docs, renamed)
    report, fake = _ingest(s, [renamed])
    # New ids (the root's name is in them) but the same texts: no model call.
    assert fake.texts_embedded == 0 and report.chunks_reused == report.chunks_embedded == n
    # Another folder name is another root: the old one's chunks are left alone, as any
    # other root's are (``--rebuild`` drops them).
    assert {source.split("/")[0] for source in state(s)} == {"docs", "guides"}


def test_legacy_store_with_absolute_ids_migrates_without_embedding(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    store = store_of(s)
    fake = FakeEmbedder()
    store.set_meta("kubeplan", {"embedder": fake.name, "dimension": fake.dimension})
    found = walk([docs], allowed_suffixes=s.allowed_suffixes)
    for item in found.files:
        # What ingest stored before ids became location-free: the absolute root.
        doc = parse_file(item, read_file(item, max_file_bytes=s.max_file_bytes))
        chunks = chunk_document(
            doc, collection="kubeplan", count_tokens=fake.count_tokens, max_tokens=200,
            overlap=s.chunk_overlap,
        )
        store.upsert("kubeplan", chunks, fake.embed_documents([embedding_text(c) for c in chunks]))
    legacy = state(s)
    assert all(source.startswith("/") for source in legacy)
    report, fresh = _ingest(s, [docs])
    assert fresh.texts_embedded == 0
    migrated = state(s)
    assert set(migrated) == {f"docs/{p.rsplit('/', 1)[1]}" for p in legacy}
    assert store_of(s).count("kubeplan") == sum(len(v) for v in legacy.values())
    assert report.chunks_reused == report.chunks_embedded > 0
    # And a second run is a no-op.
    again, fake2 = _ingest(s, [docs])
    assert fake2.texts_embedded == 0 and again.files_unchanged == 4


def test_migrate_legacy_sources_maps_moved_and_current_roots() -> None:
    roots = {"docs": Path("/new/docs")}
    stored = {
        "/new/docs/a.md": {"1"},
        "/gone/somewhere/docs/b.md": {"2"},
        "other/c.md": {"3"},
    }
    assert migrate_legacy_sources(stored, roots) == {
        "docs/a.md": {"1"},
        "docs/b.md": {"2"},
        "other/c.md": {"3"},
    }


def test_repeated_boilerplate_is_embedded_once(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    footer = "## Feedback\n\n" + " ".join(f"boiler{k}" for k in range(60))
    for i in range(5):
        body = " ".join(f"page{i} word{k}" for k in range(60))
        (docs / f"p{i}.md").write_text(f"# Page\n\n## Body\n\n{body}\n\n{footer}\n")
    report, fake = _ingest(s, [docs])
    assert report.chunks_embedded == store_of(s).count("kubeplan")
    assert report.chunks_reused == 4  # the footer of four pages: same title, same text
    assert fake.texts_embedded == report.chunks_embedded - 4


class _FailingStore(ChromaStore):
    """A store whose writes fail, as a full disk would make them."""

    def upsert(self, collection: str, chunks: Any, embeddings: Any) -> None:
        raise StoreError("disk full", "free some space")


def test_a_failed_background_write_fails_the_run(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    plain = ChromaStore.persistent(s.store_dir)
    store = _FailingStore(plain._client, plain.location)
    with pytest.raises(StoreError, match="disk full"):
        run_ingest([docs], settings=s, store=store, embedder=FakeEmbedder())


@pytest.mark.parametrize("threaded", [True, False])
def test_levers_do_not_change_what_is_stored(tmp_path: Path, threaded: bool) -> None:
    docs = write_tree(tmp_path / "docs", n=6)
    plain = settings_for(tmp_path / "plain")
    _ingest(plain, [docs])
    tuned = settings_for(tmp_path / "tuned")
    store = ChromaStore.persistent(tuned.store_dir)
    tuning = IngestTuning(reuse_vectors=threaded, write_thread=threaded, flush_chunks=5)
    run_ingest([docs], settings=tuned, store=store, embedder=FakeEmbedder(), tuning=tuning)
    assert state(tuned) == state(plain)


def test_background_writer_keeps_order_and_raises_later() -> None:
    done: list[int] = []
    writer = BackgroundWriter(threaded=True)
    for i in range(20):
        writer.submit(lambda i=i: done.append(i))
    writer.close()
    assert done == list(range(20))

    def boom() -> None:
        raise OSError("no space left")

    failing = BackgroundWriter(threaded=True)
    failing.submit(boom)
    failing.submit(lambda: done.append(99))  # dropped: the run is already failing
    with pytest.raises(OSError, match="no space"):
        failing.close()
    assert 99 not in done
