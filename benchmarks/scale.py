"""Collections of a chosen size for the latency benchmarks, without re-embedding.

A seed collection (the bundled corpus, embedded once with the real model) is copied
under other roots (``copy1/...``, ``copy2/...``) with its stored vectors until the
target chunk count: the index sizes grow as they would with more documents, and no
model runs. Each copy's vectors get a little seeded noise (cosine ~0.98 to the
original): exact duplicate vectors make an HNSW graph search slower than real
documents would. Copies repeat their seed's texts, so results hold more near-duplicates
than real documents would (the collapse step removes them); latency, not quality, is
what these collections measure. Like an ingest, the copies are written into a new
generation and published through the collection's pointer, so readers take the same
path as over an ingested collection.
"""

from __future__ import annotations

import random

from assistant.index.store import ChromaStore, generation_name
from assistant.schemas import Chunk


def grow(store: ChromaStore, seed: str, target: str, chunks: int) -> int:
    """Fill collection ``target`` with ``chunks`` chunks copied from ``seed``; returns the
    count. An existing ``target`` of that size is kept."""
    if target in store.collections() and store.count(target) == chunks:
        return chunks
    store.drop(target)
    base = list(store.iter_chunks(seed))
    vectors = store.vectors_by_content_hash(seed, [c.content_hash for c in base])
    meta = store.get_meta(seed)
    physical = generation_name(target)
    store.set_meta(physical, {k: meta[k] for k in ("embedder", "dimension") if k in meta})
    batch: list[Chunk] = []
    batch_vectors: list[list[float]] = []
    made = 0
    copy = 0
    rng = random.Random(7)
    while made < chunks:
        for chunk in base:
            if made >= chunks:
                break
            root = chunk.root if copy == 0 else f"copy{copy}"
            batch.append(
                chunk.model_copy(
                    update={
                        "id": chunk.id if copy == 0 else f"{chunk.id}-c{copy}",
                        "root": root,
                        "collection": target,
                        "content_hash": chunk.content_hash if copy == 0
                        else f"{chunk.content_hash[:40]}c{copy}",
                    }
                )
            )
            vector = vectors[chunk.content_hash]
            if copy:
                noisy = [x + rng.gauss(0.0, 0.01) for x in vector]
                norm = sum(x * x for x in noisy) ** 0.5
                vector = [x / norm for x in noisy]
            batch_vectors.append(vector)
            made += 1
            if len(batch) >= 2000:
                store.upsert(physical, batch, batch_vectors)
                batch, batch_vectors = [], []
        copy += 1
    if batch:
        store.upsert(physical, batch, batch_vectors)
    store.set_meta(physical, {"generation": f"grown-{chunks}-{physical[-16:]}"})
    store.publish(target, physical)
    return store.count(target)
