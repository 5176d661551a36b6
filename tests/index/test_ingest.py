"""The ingestion pipeline: incremental, crash-safe, locked, and kind to bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.config import Settings
from assistant.errors import CollectionNotFoundError, InputError, StoreError, StoreLockedError
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import (
    IngestProgress,
    ingest,
    ingest_lock,
    manifest_path,
    read_manifest,
)
from assistant.index.store import ChromaStore
from tests.chroma_server import running_server

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest" / "docs"


def write_tree(root: Path, n: int = 4, paragraphs: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "\n\n".join(
            f"## Section {j}\n\n" + " ".join(f"doc{i} sec{j} word{k}" for k in range(40))
            for j in range(paragraphs)
        )
        (root / f"doc{i}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")
    return root


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", embedder="fake", _env_file=None, **extra
    )


def run(settings: Settings, paths: list[Path], **kw: object) -> tuple[object, FakeEmbedder]:
    fake = FakeEmbedder()
    report = ingest(paths, settings=settings, embedder=fake, **kw)  # type: ignore[arg-type]
    return report, fake


def store_of(settings: Settings) -> ChromaStore:
    return ChromaStore.persistent(settings.store_dir)


def key(root: Path, name: str) -> str:
    """A stored source key: the root's folder name, then the path under it."""
    return f"{root.name}/{name}"


def state(settings: Settings, collection: str = "kubeplan") -> dict[str, set[str]]:
    return store_of(settings).ids_by_path(collection)


def test_first_ingest_then_unchanged_run_embeds_nothing(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    report, fake = run(s, [docs])
    assert report.files_seen == report.files_ingested == 4
    assert report.chunks_added == report.chunks_embedded == fake.texts_embedded > 0
    assert report.roots == [docs.resolve().as_posix()]
    store = store_of(s)
    chunk = next(store.iter_chunks("kubeplan"))
    # Stored chunks name their root by folder name: ids survive a moved checkout.
    assert chunk.root == "docs" and chunk.path.startswith("doc")
    assert chunk.collection == "kubeplan" and chunk.title.startswith("Document")
    meta = store.get_meta("kubeplan")
    assert meta["embedder"] == "fake-hash-64" and meta["dimension"] == 64
    generation = meta["generation"]

    again, fake2 = run(s, [docs])
    assert fake2.texts_embedded == 0 and again.chunks_embedded == 0
    assert again.files_unchanged == 4 and again.chunks_unchanged == report.chunks_added
    assert again.chunks_added == again.chunks_deleted == again.chunks_updated == 0
    assert store_of(s).get_meta("kubeplan")["generation"] == generation


def test_changed_file_reembeds_only_its_changed_chunks(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    run(s, [docs])
    before = state(s)
    generation = store_of(s).get_meta("kubeplan")["generation"]
    path = docs / "doc1.md"
    path.write_text(path.read_text().replace("doc1 sec2 word5", "CHANGED"))
    report, fake = run(s, [docs])
    assert report.files_ingested == 1 and report.files_unchanged == 3
    assert fake.texts_embedded == report.chunks_embedded >= 1
    assert report.chunks_updated == fake.texts_embedded
    after = state(s)
    source = key(docs, "doc1.md")
    assert {k: v for k, v in after.items() if k != source} == {
        k: v for k, v in before.items() if k != source
    }
    assert len(after[source] - before[source]) == fake.texts_embedded
    assert len(after[source]) == len(before[source])
    assert store_of(s).get_meta("kubeplan")["generation"] != generation


def test_shrunk_file_deletes_its_stale_chunks(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    run(s, [docs])
    source = key(docs, "doc0.md")
    n_before = len(state(s)[source])
    (docs / "doc0.md").write_text("# Document 0\n\n## Section 0\n\nonly a little text remains\n")
    report, fake = run(s, [docs])
    after = state(s)[source]
    assert len(after) == 1 and fake.texts_embedded == 1
    assert report.chunks_updated + report.chunks_deleted == n_before


def test_removed_file_loses_its_chunks(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    run(s, [docs])
    gone = key(docs, "doc2.md")
    n = len(state(s)[gone])
    (docs / "doc2.md").unlink()
    report, fake = run(s, [docs])
    assert gone not in state(s)
    assert report.chunks_deleted == n and fake.texts_embedded == 0
    assert gone not in read_manifest(manifest_path(s, str(s.store_dir.resolve()), "kubeplan"))


def test_other_roots_and_filtered_runs_are_left_alone(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    a = write_tree(tmp_path / "a", n=2)
    b = write_tree(tmp_path / "b", n=2)
    run(s, [a])
    run(s, [b])
    assert len(state(s)) == 4
    # The manifest cache keeps the other root's entries.
    cached = read_manifest(manifest_path(s, str(s.store_dir.resolve()), "kubeplan"))
    assert set(cached) == set(state(s))
    (a / "doc0.md").unlink()
    run(s, [a])
    sources = state(s)
    assert key(a, "doc1.md") in sources
    assert {p for p in sources if p.startswith("b/")} == {
        key(b, "doc0.md"),
        key(b, "doc1.md"),
    }
    # A run narrowed by --include keeps the files it did not look at.
    report, _ = run(s, [b], include=["doc0.md"])
    assert report.files_seen == 1 and report.chunks_deleted == 0
    assert key(b, "doc1.md") in state(s)


def test_store_is_the_source_of_truth(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    run(s, [docs])
    full = state(s)
    # A lost manifest is rebuilt without embedding anything.
    shutil.rmtree(s.data_dir / "manifests")
    report, fake = run(s, [docs])
    assert fake.texts_embedded == 0 and report.files_unchanged == 4
    # A chunk missing from the store is noticed although the manifest lists it.
    _source, ids = next(iter(full.items()))
    store_of(s).delete("kubeplan", [sorted(ids)[0]])
    report, fake = run(s, [docs])
    assert fake.texts_embedded == 1 and state(s) == full


def test_rebuild_starts_afresh(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs")
    first, _ = run(s, [docs])
    store_of(s).upsert("kubeplan", [], [])
    report, fake = run(s, [docs], rebuild=True)
    assert report.rebuilt and fake.texts_embedded == first.chunks_added


def test_another_embedder_needs_rebuild(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs", n=1)
    run(s, [docs])
    with pytest.raises(StoreError, match="--rebuild"):
        ingest([docs], settings=s, embedder=FakeEmbedder(dimension=32))
    report = ingest([docs], settings=s, embedder=FakeEmbedder(dimension=32), rebuild=True)
    assert report.chunks_added > 0


def test_collections_are_separate(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    docs = write_tree(tmp_path / "docs", n=1)
    run(s, [docs], collection="one")
    _report, fake = run(s, [docs], collection="two")
    assert fake.texts_embedded > 0
    assert set(state(s, "one")) == set(state(s, "two"))
    assert state(s, "one") != state(s, "two")  # ids include the collection


def test_bad_files_are_skipped_named_and_keep_old_chunks(tmp_path: Path) -> None:
    s = settings_for(tmp_path, max_file_bytes=5000)
    docs = write_tree(tmp_path / "docs", n=2)
    (docs / "empty.md").write_text("")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (docs / "huge.txt").write_text("big " * 2000)
    (docs / "latin.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    report, _ = run(s, [docs])
    skipped = {i.path: i.reason for i in report.files_skipped}
    assert set(skipped) == {"empty.md", "binary.txt", "huge.txt"}
    assert "empty" in skipped["empty.md"] and "binary" in skipped["binary.txt"]
    assert "limit" in skipped["huge.txt"]
    assert [w.path for w in report.warnings] == ["latin.txt"]
    assert report.files_ingested == 3
    # A stored file that turns bad keeps its chunks: nothing already stored is lost.
    kept = state(s)[key(docs, "doc0.md")]
    (docs / "doc0.md").write_bytes(b"\x00binary now")
    report, _ = run(s, [docs])
    assert "doc0.md" in {i.path for i in report.files_skipped}
    assert state(s)[key(docs, "doc0.md")] == kept


def test_invalid_curated_document_fails_but_others_go_in(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "t").mkdir(parents=True)
    (corpus / "t" / "bad.md").write_text("---\ntitle: x\n---\n\n## A\n\ntext\n")
    (corpus / "README.md").write_text("# About the corpus\n\nformat notes\n")
    shutil.copy(REPO / "corpus" / "README.md", corpus / "t" / "README.md")
    s = settings_for(tmp_path, corpus_dir=corpus)
    write_tree(corpus / "u", n=1)
    (corpus / "u" / "doc0.md").write_text(_valid_curated())
    report, _ = run(s, [corpus])
    assert [f.path for f in report.files_failed] == ["t/bad.md"]
    assert "invalid front matter" in report.files_failed[0].reason
    assert report.files_ingested == 1  # READMEs are not part of the corpus
    chunks = list(store_of(s).iter_chunks("kubeplan"))
    assert {c.doc_id for c in chunks} == {"etcd-doc"}
    assert {tuple(c.decision_ids) for c in chunks} == {("availability.etcd-odd-members",)}


def _valid_curated() -> str:
    return textwrap.dedent(
        """\
        ---
        id: etcd-doc
        title: Highly available etcd
        topic: availability
        summary: How many etcd members to run and where to put them.
        applies_to: any
        reviewed: 2026-11-28
        sources:
          - title: etcd FAQ
            url: https://etcd.io/docs/v3.5/faq/
        decisions:
          - id: availability.etcd-odd-members
            title: Run three or five etcd members
            recommendation: Run three etcd members across three zones in production.
            when: [production]
            tradeoffs: [more members slow writes]
            sources: [https://etcd.io/docs/v3.5/faq/]
        ---

        Overview text about etcd.

        ## Run three or five etcd members

        Odd counts tolerate failures.
        """
    )


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        run(settings_for(tmp_path), [tmp_path / "nope"])
    assert not (tmp_path / "data" / "chroma").exists()


def test_progress_reports_files_and_chunks(tmp_path: Path) -> None:
    s = settings_for(tmp_path, embed_batch_size=1)
    docs = write_tree(tmp_path / "docs", n=5)
    events: list[IngestProgress] = []
    report, _ = run(s, [docs], progress=events.append)
    assert events[-1].files_done == events[-1].files_total == 5
    assert events[-1].chunks_embedded == report.chunks_embedded
    done = [e.files_done for e in events]
    assert done == sorted(done)


def test_fixture_formats_ingest_and_answer_queries(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    assistant = Assistant(s, embedder=FakeEmbedder())
    report = assistant.ingest([FIXTURES])
    assert report.files_ingested == 5 and not report.files_failed
    stats = assistant.stats()
    assert stats.sources == 5 and stats.chunks >= 5 and stats.last_ingest is not None
    assert stats.topics == {"networking": 1, "workloads": 2}
    query = assistant.embedder.embed_query("ingress controller")
    hits = assistant.store.query("kubeplan", query, 2)
    assert hits[0].chunk.path == "sub/page.html"


# --------------------------------------------------------------------------- lock

_HOLD_LOCK = """
import sys
from pathlib import Path
from assistant.config import Settings
from assistant.index.indexer import ingest_lock
s = Settings(data_dir=Path(sys.argv[1]), embedder="fake", _env_file=None)
with ingest_lock(s):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "data")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


def test_second_writer_is_refused_with_the_pid(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    docs = write_tree(tmp_path / "docs", n=1)
    with pytest.raises(StoreLockedError, match=f"pid {lock_holder.pid}") as info:
        run(settings_for(tmp_path), [docs])
    assert info.value.fix and "KUBEPLAN_LOCK_TIMEOUT" in info.value.fix


def test_second_writer_waits_with_a_timeout(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    docs = write_tree(tmp_path / "docs", n=1)
    assert lock_holder.stdin is not None
    threading.Timer(0.5, lock_holder.stdin.close).start()
    report, _ = run(settings_for(tmp_path, lock_timeout=60), [docs])
    assert report.files_ingested == 1


def test_lock_is_not_needed_for_a_server(tmp_path: Path) -> None:
    s = settings_for(tmp_path, chroma_url="http://127.0.0.1:1")
    with ingest_lock(s):
        pass
    assert not (tmp_path / "data" / "ingest.lock").exists()


# --------------------------------------------------------------------------- crash

_SLOW_INGEST = """
import sys
from pathlib import Path
from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import ingest
s = Settings(data_dir=Path(sys.argv[1]), embedder="fake", embed_batch_size=1, _env_file=None)
def progress(event):
    print(event.chunks_embedded, flush=True)
ingest([Path(sys.argv[2])], settings=s, embedder=FakeEmbedder(delay=0.01), progress=progress)
print("done", flush=True)
"""


def kill_part_way(data_dir: Path, docs: Path, after_chunks: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_INGEST, str(data_dir), str(docs)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "done" or int(line) >= after_chunks:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it was killed"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fresh", "update"])
def test_killed_ingest_converges(tmp_path: Path, mode: str) -> None:
    docs = write_tree(tmp_path / "docs", n=24, paragraphs=4)
    s = settings_for(tmp_path)
    published: dict[str, set[str]] | None = None
    if mode == "update":
        run(s, [docs])
        published = state(s)
        for i in range(0, 24, 2):  # change half the files, drop two
            p = docs / f"doc{i}.md"
            p.write_text(p.read_text().replace("word3 ", "edited "))
        (docs / "doc1.md").unlink()
        (docs / "doc3.md").unlink()
    clean = settings_for(tmp_path / "clean")
    run(clean, [docs])
    kill_part_way(s.data_dir, docs, after_chunks=40)
    # Readers still see the last complete ingest (none at all for a first one) ...
    if published is None:
        with pytest.raises(CollectionNotFoundError):
            state(s)
    else:
        assert state(s) == published
    # ... while the killed run's staging generation is left to resume.
    staging = [g for g in store_of(s).generations("kubeplan") if g != _current(s)]
    assert staging, "the kill left nothing to repair"

    _report, fake = run(s, [docs])
    stored = state(s)
    assert stored == state(clean)  # same chunks, ids, sources: nothing lost or orphaned
    store = store_of(s)
    ids = [c.id for c in store.iter_chunks("kubeplan")]
    assert len(ids) == len(set(ids)) == store.count("kubeplan")
    assert fake.texts_embedded < sum(len(v) for v in stored.values())  # work was kept
    manifest = read_manifest(manifest_path(s, str(s.store_dir.resolve()), "kubeplan"))
    assert {k: set(v["chunk_ids"]) for k, v in manifest.items()} == stored
    final, fake = run(s, [docs])
    assert fake.texts_embedded == 0 and final.chunks_deleted == 0
    # Only the published generation and the one before it remain.
    assert len(store_of(s).generations("kubeplan")) <= 2


def _current(settings: Settings) -> str | None:
    pointer = store_of(settings).pointer("kubeplan")
    return pointer.physical if pointer else None


# --------------------------------------------------------------------------- server


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


@pytest.mark.server
def test_server_mode_ingest_and_query(tmp_path: Path, server_url: str) -> None:
    s = settings_for(tmp_path, chroma_url=server_url, collection="server-test")
    assistant = Assistant(s, embedder=FakeEmbedder())
    report = assistant.ingest([FIXTURES], rebuild=True)
    assert report.files_ingested == 5
    again = Assistant(s, embedder=FakeEmbedder()).ingest([FIXTURES])
    assert again.chunks_embedded == 0 and again.files_unchanged == 5
    stats = assistant.stats()
    assert stats.location == server_url and stats.sources == 5
    hits = assistant.store.query(
        "server-test", assistant.embedder.embed_query("service types ClusterIP"), 1,
        where={"topic": "networking"},
    )
    assert hits[0].chunk.path == "hugo.md"
    assert not (s.data_dir / "ingest.lock").exists()
    json.dumps(report.model_dump(mode="json"))
