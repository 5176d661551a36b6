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
    StoreDamagedError,
    StoreError,
    StoreUnavailableError,
)
from assistant.index.store import ChromaStore, VectorStore, check_embedder, open_store
from assistant.schemas import Chunk
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


# --------------------------------------------------------------------------- generations


def test_publish_switches_readers_atomically(store: ChromaStore, name: str) -> None:
    assert store.pointer(name) is None
    g1, g2 = f"{name}__g{'1' * 16}", f"{name}__g{'2' * 16}"
    store.upsert(g1, [chunk(1)], [unit(0)])
    store.set_meta(g1, {"generation": "one"})
    store.publish(name, g1)
    assert name in store.collections() and g1 not in store.collections()
    assert store.count(name) == 1 and store.get_meta(name)["generation"] == "one"
    store.upsert(g2, [chunk(2), chunk(3)], [unit(1), unit(2)])
    assert store.count(name) == 1  # an unpublished generation is invisible
    store.publish(name, g2)
    pointer = store.pointer(name)
    assert pointer is not None and (pointer.physical, pointer.previous) == (g2, g1)
    assert {h.chunk.id for h in store.query(name, unit(1), 5)} == {"id-2", "id-3"}
    assert sorted(store.generations(name)) == [g1, g2]
    store.drop_generation(g1)
    store.drop_generation(g1)  # missing is fine
    assert store.generations(name) == [g2]
    store.drop(name)
    assert name not in store.collections() and store.generations(name) == []
    with pytest.raises(CollectionNotFoundError):
        store.count(name)


def test_copy_into_keeps_embeddings(store: ChromaStore, name: str) -> None:
    source, target = f"{name}__g{'a' * 16}", f"{name}__g{'b' * 16}"
    store.upsert(source, [chunk(i) for i in range(3)], [unit(i) for i in range(3)])
    store.upsert(target, [chunk(0, text="kept")], [unit(3)])
    assert store.copy_into(source, target, skip_existing=True) == 2
    assert store.get(target, ["id-0"])[0].text == "kept"
    hits = store.query(target, unit(2), 1)
    assert hits[0].chunk.id == "id-2" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert store.copy_into(source, target) == 3
    assert store.count(target) == 3


def test_a_pointer_to_a_missing_generation_is_damage(store: ChromaStore, name: str) -> None:
    store.publish(name, f"{name}__g{'9' * 16}")
    with pytest.raises(StoreDamagedError, match="pointer") as info:
        store.count(name)
    assert info.value.fix and "doctor --repair" in info.value.fix
    store.drop(name)


@pytest.mark.parametrize("content", [b"", b"garbage, not a database" * 100])
def test_damaged_database_file_is_reported_as_damage(tmp_path: Path, content: bytes) -> None:
    ChromaStore.persistent(tmp_path / "db").upsert("kubeplan", [chunk(1)], [unit(0)])
    (tmp_path / "db" / "chroma.sqlite3").write_bytes(content)
    with pytest.raises(StoreDamagedError, match="damaged") as info:
        ChromaStore.persistent(tmp_path / "db")
    assert info.value.fix and "kubeplan doctor --repair" in info.value.fix


def test_damaged_pointer_file_is_reported_as_damage(tmp_path: Path) -> None:
    store = ChromaStore.persistent(tmp_path / "db")
    store.upsert("kubeplan__g0123456789abcdef", [chunk(1)], [unit(0)])
    store.publish("kubeplan", "kubeplan__g0123456789abcdef")
    (tmp_path / "db" / "pointer.json").write_text("{not json")
    with pytest.raises(StoreDamagedError, match="pointer"):
        ChromaStore.persistent(tmp_path / "db").count("kubeplan")


def test_a_store_replaced_on_disk_is_reopened(tmp_path: Path) -> None:
    reader = ChromaStore.persistent(tmp_path / "db")
    reader.upsert("kubeplan", [chunk(1)], [unit(0)])
    assert reader.count("kubeplan") == 1
    (tmp_path / "db").rename(tmp_path / "db.old")
    fresh = ChromaStore.persistent(tmp_path / "db")  # not the cached state of the old one
    fresh.upsert("other", [chunk(9)], [unit(3)])
    assert fresh.collections() == ["other"]
    with pytest.raises(CollectionNotFoundError):
        reader.count("kubeplan")
    reader.upsert("kubeplan", [chunk(2), chunk(3)], [unit(1), unit(2)])
    assert reader.count("kubeplan") == 2
    assert ChromaStore.persistent(tmp_path / "db.old").count("kubeplan") == 1


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


class _Counting:
    """A Chroma client or collection that counts the calls made through it (a fake
    wrapper around the real object: every call still reaches Chroma)."""

    def __init__(self, target: object, calls: list[str]) -> None:
        self._target, self._calls = target, calls

    def __getattr__(self, attr: str) -> object:
        value = getattr(self._target, attr)
        if not callable(value):
            return value

        def call(*args: object, **kwargs: object) -> object:
            self._calls.append(attr)
            result = value(*args, **kwargs)
            if attr in ("get_collection", "get_or_create_collection"):
                return _Counting(result, self._calls)
            return result

        return call


def test_a_warm_query_is_one_store_call(store: ChromaStore, name: str) -> None:
    physical = f"{name}__g{'a' * 16}"
    store.upsert(physical, [chunk(1), chunk(2)], [unit(1), unit(2)])
    store.publish(name, physical)
    calls: list[str] = []
    store._client = _Counting(store._client, calls)
    pointer = store.pointer(name)
    assert pointer is not None
    store.query(pointer.physical, unit(1), 5)  # fetches the handle once
    calls.clear()
    hits = store.query(pointer.physical, unit(2), 5)
    assert [h.chunk.id for h in hits] == [chunk(2).id, chunk(1).id]
    assert calls == ["query"]
    # No count first: a k beyond the collection's size, or a filter matching nothing,
    # is answered by the same single call.
    calls.clear()
    assert len(store.query(pointer.physical, unit(2), 50)) == 2
    assert store.query(pointer.physical, unit(2), 5, where={"topic": "none"}) == []
    assert calls == ["query", "query"]


def test_cached_handles_follow_a_new_generation(store: ChromaStore, name: str) -> None:
    first, second = f"{name}__g{'1' * 16}", f"{name}__g{'2' * 16}"
    store.upsert(first, [chunk(1)], [unit(1)])
    store.publish(name, first)
    assert [h.chunk.id for h in store.query(name, unit(1), 3)] == [chunk(1).id]
    store.upsert(second, [chunk(2)], [unit(2)])
    store.publish(name, second)
    assert [h.chunk.id for h in store.query(name, unit(2), 3)] == [chunk(2).id]
    store.drop_generation(first)
    store.upsert(first, [chunk(3)], [unit(3)])  # the same name, a new collection
    assert [h.chunk.id for h in store.query(first, unit(3), 3)] == [chunk(3).id]


def test_a_store_replaced_on_disk_drops_its_cached_handles(tmp_path: Path, name: str) -> None:
    import shutil

    reader = ChromaStore.persistent(tmp_path / "chroma")
    reader.upsert(name, [chunk(1)], [unit(1)])
    assert [h.chunk.id for h in reader.query(name, unit(1), 3)] == [chunk(1).id]
    # Another process moves the store aside and builds a new one in its place
    # (`kubeplan doctor --repair`).
    shutil.move(tmp_path / "chroma", tmp_path / "chroma.damaged")
    other = ChromaStore.persistent(tmp_path / "chroma")
    other.upsert(name, [chunk(2)], [unit(2)])
    assert [h.chunk.id for h in reader.query(name, unit(2), 3)] == [chunk(2).id]


def test_override_check_is_skipped_only_while_chroma_loads() -> None:
    import overrides

    from assistant.index.store import _unchecked_overrides

    original = overrides.override

    class Base:
        def run(self) -> int:
            return 1

    with pytest.raises(RuntimeError), _unchecked_overrides():
        assert overrides.override is not original and overrides.overrides is not original

        class Child(Base):
            @overrides.override
            def run(self) -> int:
                return 2

        # Still marked as an override (what EnforceOverrides looks for), and unchanged.
        assert Child.run.__override__ is True  # type: ignore[attr-defined]
        assert Child().run() == 2
        raise RuntimeError("an import failing inside")
    assert overrides.override is original
