"""One contract suite for ``ChromaStore``: in memory, embedded on disk, and a real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import (
    CollectionNotFoundError,
    InputError,
    StoreError,
    StoreUnavailableError,
)
from assistant.schemas import Chunk
from assistant.store import ChromaStore, VectorStore, check_embedder, open_store
from tests.chroma_server import free_port, running_server


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


@pytest.fixture(params=["ephemeral", "persistent", pytest.param("http", marks=pytest.mark.server)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaStore:
    if request.param == "ephemeral":
        return ChromaStore.ephemeral()
    if request.param == "persistent":
        return ChromaStore.persistent(tmp_path / "chroma")
    return ChromaStore.http(request.getfixturevalue("server_url"))


@pytest.fixture
def name() -> str:
    # Ephemeral stores share one process-wide memory, and the server outlives a test.
    return f"t-{uuid.uuid4().hex[:12]}"


def chunk(i: int, *, path: str = "a.md", topic: str | None = "secrets", **extra: object) -> Chunk:
    data: dict[str, object] = {
        "id": f"id-{i}",
        "text": f"text {i}",
        "collection": "c",
        "path": path,
        "root": "/root",
        "title": "Title",
        "heading_path": ["H1", "H2"],
        "ordinal": i,
        "content_hash": f"{i:064d}",
        "file_hash": "f" * 64,
        "url": "https://example.org",
        "topic": topic,
        "doc_id": "doc",
        "decision_ids": ["secrets.a", "secrets.b"],
        "tokens": 12,
    }
    data.update(extra)
    return Chunk.model_validate(data)


def unit(i: int, dim: int = 4) -> list[float]:
    v = [0.0] * dim
    v[i % dim] = 1.0
    return v


def test_is_a_vector_store(store: ChromaStore) -> None:
    assert isinstance(store, VectorStore)
    assert store.location


def test_round_trip_keeps_every_field(store: ChromaStore, name: str) -> None:
    original = chunk(1)
    store.upsert(name, [original], [unit(0)])
    assert name in store.collections()
    assert store.get(name, ["id-1"]) == [original]
    bare = chunk(2, topic=None, url=None, doc_id=None, decision_ids=[], heading_path=[])
    store.upsert(name, [bare], [unit(1)])
    assert store.get(name, ["id-2", "missing"]) == [bare]
    odd = chunk(3, heading_path=["A > B", "C"])
    store.upsert(name, [odd], [unit(2)])
    assert len(store.get(name, ["id-3"])[0].heading_path) == 1  # count preserved, not split


def test_query_scores_filters_and_k(store: ChromaStore, name: str) -> None:
    chunks = [chunk(i, topic="secrets" if i % 2 else "nodes", path=f"p{i}.md") for i in range(4)]
    store.upsert(name, chunks, [unit(i) for i in range(4)])
    hits = store.query(name, [1.0, 0.0, 0.0, 0.0], k=2)
    assert hits[0].chunk.id == "id-0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[1].score == pytest.approx(0.0, abs=1e-4)
    assert len(store.query(name, unit(0), k=50)) == 4
    only = store.query(name, unit(0), k=4, where={"topic": "secrets"})
    assert {h.chunk.id for h in only} == {"id-1", "id-3"}
    both = store.query(name, unit(0), k=4, where={"topic": "secrets", "path": "p3.md"})
    assert [h.chunk.id for h in both] == ["id-3"]
    assert store.query(name, unit(0), k=4, where={"doc_id": "doc", "collection": "c"})
    with pytest.raises(InputError, match="filter"):
        store.query(name, unit(0), k=1, where={"title": "x"})


def test_upsert_replaces_and_delete_removes(store: ChromaStore, name: str) -> None:
    store.upsert(name, [chunk(1), chunk(2)], [unit(0), unit(1)])
    store.upsert(name, [chunk(1, text="changed")], [unit(2)])
    assert store.count(name) == 2
    assert store.get(name, ["id-1"])[0].text == "changed"
    store.delete(name, ["id-1", "not-there"])
    assert store.count(name) == 1
    store.delete(name, [])


def test_ids_by_path_and_iteration(store: ChromaStore, name: str) -> None:
    chunks = [chunk(i, path="a.md" if i < 3 else "b/c.md") for i in range(5)]
    store.upsert(name, chunks, [unit(i) for i in range(5)])
    assert store.ids_by_path(name) == {
        "/root/a.md": {"id-0", "id-1", "id-2"},
        "/root/b/c.md": {"id-3", "id-4"},
    }
    assert sorted(c.id for c in store.iter_chunks(name, batch_size=2)) == [
        f"id-{i}" for i in range(5)
    ]


def test_meta(store: ChromaStore, name: str) -> None:
    store.set_meta(name, {"embedder": "fake", "dimension": 4})
    store.set_meta(name, {"generation": "g1"})
    assert store.get_meta(name) == {"embedder": "fake", "dimension": 4, "generation": "g1"}
    assert store.count(name) == 0


def test_missing_collection(store: ChromaStore, name: str) -> None:
    for call in (
        lambda: store.count(name),
        lambda: store.get(name, ["x"]),
        lambda: store.query(name, unit(0), 1),
        lambda: store.ids_by_path(name),
        lambda: list(store.iter_chunks(name)),
        lambda: store.get_meta(name),
        lambda: store.delete(name, ["x"]),
    ):
        with pytest.raises(CollectionNotFoundError, match="kubeplan ingest"):
            call()
    store.drop(name)  # not an error


def test_drop(store: ChromaStore, name: str) -> None:
    store.upsert(name, [chunk(1)], [unit(0)])
    store.drop(name)
    assert name not in store.collections()


def test_invalid_name(store: ChromaStore) -> None:
    with pytest.raises(InputError, match="collection name"):
        store.upsert("x", [chunk(1)], [unit(0)])


def test_query_with_the_wrong_dimension(store: ChromaStore, name: str) -> None:
    store.set_meta(name, {"embedder": "fake", "dimension": 4})
    store.upsert(name, [chunk(1)], [unit(0)])
    with pytest.raises(StoreError, match="dimensional"):
        store.query(name, [1.0, 0.0], 1)


def test_check_embedder(store: ChromaStore, name: str) -> None:
    check_embedder(store, name, "fake", 4)  # no collection yet
    store.set_meta(name, {"embedder": "fake", "dimension": 4})
    check_embedder(store, name, "fake", 4)
    with pytest.raises(StoreError, match="--rebuild"):
        check_embedder(store, name, "other-model", 4)
    with pytest.raises(StoreError, match="--rebuild"):
        check_embedder(store, name, "fake", 8)


def test_persistent_store_survives_reopening(tmp_path: Path, name: str) -> None:
    ChromaStore.persistent(tmp_path / "db").upsert(name, [chunk(1)], [unit(0)])
    assert ChromaStore.persistent(tmp_path / "db").count(name) == 1


def test_open_store_picks_by_settings(fake_settings: Settings) -> None:
    store = open_store(fake_settings)
    assert store.location == str(fake_settings.store_dir.resolve())


def test_unreachable_server_names_url_and_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError, match=url.replace(".", r"\.")) as info:
        ChromaStore.http(url)
    assert info.value.fix and "chroma run" in info.value.fix


def test_a_collection_dropped_and_refilled_elsewhere_is_followed(name: str) -> None:
    # Two handles on one in-memory Chroma: as a reader and an ingest in another process.
    reader, writer = ChromaStore.ephemeral(), ChromaStore.ephemeral()
    writer.upsert(name, [chunk(1)], [unit(1)])
    assert [h.chunk.id for h in reader.query(name, unit(1), 3)] == [chunk(1).id]
    writer.drop(name)  # e.g. `kubeplan ingest --rebuild`
    writer.upsert(name, [chunk(2)], [unit(2)])
    assert [h.chunk.id for h in reader.query(name, unit(2), 3)] == [chunk(2).id]
    assert reader.count(name) == 1
    writer.drop(name)
    with pytest.raises(CollectionNotFoundError):
        reader.query(name, unit(2), 3)


def test_vectors_by_content_hash(store: ChromaStore, name: str) -> None:
    store.upsert(name, [chunk(1), chunk(2)], [unit(1), unit(2)])
    found = store.vectors_by_content_hash(name, [chunk(2).content_hash, "unknown"])
    assert list(found) == [chunk(2).content_hash]
    assert found[chunk(2).content_hash] == pytest.approx(unit(2))
    assert store.vectors_by_content_hash("no-such-collection", ["x"]) == {}
