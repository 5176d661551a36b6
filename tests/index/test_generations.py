"""Ingest publishes generations: readers see the last complete ingest until the switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder
from assistant.index.generations import BASE, STATE, StagedCollection
from assistant.index.indexer import IngestProgress, run_ingest
from assistant.index.keyword import KeywordIndex, collection_generation, index_dir
from assistant.index.store import ChromaStore
from assistant.schemas import Chunk
from tests.index.test_ingest import settings_for, write_tree


def ingest_with(
    settings: Settings,
    store: ChromaStore,
    docs: Path,
    *,
    rebuild: bool = False,
    watch: ChromaStore | None = None,
    seen: list[set[str]] | None = None,
) -> FakeEmbedder:
    """Ingest ``docs``; with ``watch``, record what a reader sees after every progress step."""
    fake = FakeEmbedder()

    def progress(_event: IngestProgress) -> None:
        if watch is not None and seen is not None:
            try:
                seen.append({c.id for c in watch.iter_chunks("kubeplan")})
            except Exception as exc:  # recorded, asserted on below
                seen.append({f"error: {exc}"})

    run_ingest(
        [docs], settings=settings, store=store, embedder=fake, rebuild=rebuild, progress=progress
    )
    return fake


def ids(store: ChromaStore) -> set[str]:
    return {c.id for c in store.iter_chunks("kubeplan")}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, ChromaStore, Path]:
    settings = settings_for(tmp_path, embed_batch_size=2)
    return settings, ChromaStore.persistent(settings.store_dir), write_tree(tmp_path / "docs", n=6)


def test_an_unchanged_run_publishes_nothing(setup: tuple[Settings, ChromaStore, Path]) -> None:
    settings, store, docs = setup
    ingest_with(settings, store, docs)
    pointer = store.pointer("kubeplan")
    assert pointer is not None and store.generations("kubeplan") == [pointer.physical]
    assert store.get_meta("kubeplan")[STATE] == "published"
    ingest_with(settings, store, docs)
    assert store.pointer("kubeplan") == pointer
    assert store.generations("kubeplan") == [pointer.physical]


def test_the_writer_saves_the_new_generations_keyword_index_before_the_switch(
    setup: tuple[Settings, ChromaStore, Path],
) -> None:
    settings, store, docs = setup
    folder = index_dir(settings.data_dir, "kubeplan")
    for change in (False, True):
        if change:
            (docs / "doc0.md").write_text("# Zero\n\nA new text about etcd backups.\n")
        ingest_with(settings, store, docs)
        pointer = store.pointer("kubeplan")
        assert pointer is not None
        # A reader's first search on this generation loads it instead of rebuilding.
        generation = collection_generation(store, pointer.physical)
        assert KeywordIndex.saved_generation(folder) == generation
        index = KeywordIndex.load(folder)
        assert index is not None and len(index.chunks) == len(ids(store))


@pytest.mark.parametrize("rebuild", [False, True])
def test_readers_see_the_old_generation_until_the_switch(
    setup: tuple[Settings, ChromaStore, Path], rebuild: bool
) -> None:
    settings, store, docs = setup
    ingest_with(settings, store, docs)
    before = ids(store)
    for i in range(3):
        path = docs / f"doc{i}.md"
        path.write_text(path.read_text().replace("word7 ", "changed "))
    (docs / "doc5.md").unlink()
    seen: list[set[str]] = []
    reader = ChromaStore.persistent(settings.store_dir)
    fake = ingest_with(settings, store, docs, rebuild=rebuild, watch=reader, seen=seen)
    assert len(seen) > 3 and all(s == before for s in seen)
    after = ids(reader)
    assert after != before
    if not rebuild:  # copy on write: only the changed chunks were embedded
        assert fake.texts_embedded == len(after - before)
    # The new generation and the one before it; nothing else is kept.
    pointer = store.pointer("kubeplan")
    assert pointer is not None and pointer.previous is not None
    assert sorted(store.generations("kubeplan")) == sorted([pointer.physical, pointer.previous])
    ingest_with(settings, store, docs)  # unchanged: the previous one stays for readers
    assert len(store.generations("kubeplan")) == 2


def test_a_store_without_generations_is_upgraded(
    setup: tuple[Settings, ChromaStore, Path],
) -> None:
    settings, store, docs = setup
    # What kubeplan wrote before generations: the chunks in the collection itself.
    ingest_with(settings, store, docs)
    physical = store.generations("kubeplan")[0]
    meta = {k: v for k, v in store.get_meta(physical).items() if not k.startswith("kp_")}
    (settings.store_dir / "pointer.json").unlink()
    store.copy_into(physical, "kubeplan")
    store.set_meta("kubeplan", meta)
    store.drop_generation(physical)
    legacy = ids(store)
    assert store.pointer("kubeplan") is None and store.generations("kubeplan") == ["kubeplan"]
    (docs / "doc0.md").unlink()
    fake = ingest_with(settings, store, docs)
    assert fake.texts_embedded == 0 and ids(store) < legacy
    pointer = store.pointer("kubeplan")
    assert pointer is not None and pointer.previous == "kubeplan"
    (docs / "doc1.md").unlink()
    ingest_with(settings, store, docs)
    assert "kubeplan" not in store.generations("kubeplan")
    assert store.collections() == ["kubeplan"]


def test_a_killed_run_is_resumed_not_redone(setup: tuple[Settings, ChromaStore, Path]) -> None:
    settings, store, docs = setup
    ingest_with(settings, store, docs)
    published = store.pointer("kubeplan")
    assert published is not None
    for i in range(6):
        path = docs / f"doc{i}.md"
        path.write_text(path.read_text().replace("word9 ", "edited "))
    # A run that stops after its first write, as if killed there.
    staged = StagedCollection(store, "kubeplan")
    chunk = next(store.iter_chunks("kubeplan"))
    staged.upsert(
        "kubeplan",
        [Chunk.model_validate({**chunk.model_dump(), "id": "extra"})],
        [[1.0] + [0.0] * 63],
    )
    assert staged.target is not None
    assert store.get_meta(staged.target)[BASE] == published.physical
    assert store.pointer("kubeplan") == published and "extra" not in ids(store)
    fake = ingest_with(settings, store, docs)
    pointer = store.pointer("kubeplan")
    assert pointer is not None and pointer.physical == staged.target  # resumed
    assert "extra" not in ids(store)  # and converged: the orphan is gone
    assert fake.texts_embedded > 0
    clean_settings = settings_for(settings.data_dir.parent / "clean")
    clean = ChromaStore.persistent(clean_settings.store_dir)
    ingest_with(clean_settings, clean, docs)
    assert ids(store) == ids(clean)


@pytest.mark.slow
def test_kill_at_any_moment_leaves_old_or_new_never_half(tmp_path: Path) -> None:
    """kill -9 an updating ingest at several moments (from its first progress line to past
    its end): readers then see exactly the old or exactly the new chunk ids, and the next
    run converges to the new ones."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from tests.index.test_ingest import _SLOW_INGEST, REPO, state

    docs = write_tree(tmp_path / "docs", n=12, paragraphs=4)
    template = settings_for(tmp_path / "template")
    ingest_with(template, ChromaStore.persistent(template.store_dir), docs)
    old = state(template)
    for i in range(0, 12, 2):
        path = docs / f"doc{i}.md"
        path.write_text(path.read_text().replace("word3 ", "edited "))
    (docs / "doc1.md").unlink()
    clean = settings_for(tmp_path / "clean")
    ingest_with(clean, ChromaStore.persistent(clean.store_dir), docs)
    new = state(clean)
    outcomes = []
    for n, delay in enumerate([0.0, 0.05, 0.2, 0.5, 1.0, 3.0]):
        s = settings_for(tmp_path / f"run{n}")
        shutil.copytree(template.data_dir, s.data_dir)
        proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_INGEST, str(s.data_dir), str(docs)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # the ingest has started
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen = state(s)
        assert seen in (old, new), f"kill after {delay}s left half an ingest visible"
        outcomes.append("old" if seen == old else "new")
        ingest_with(s, ChromaStore.persistent(s.store_dir), docs)
        assert state(s) == new
    assert "old" in outcomes  # at least one kill landed inside the ingest
