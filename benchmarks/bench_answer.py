"""Answer latency: warm ``ask`` and ``retrieve`` against a bare vector query, and a cold
``kubeplan ask`` against a bare interpreter start.

Run: ``.venv/bin/python -m benchmarks.bench_answer [--data-dir DIR] [--k8s] [--seed DIR
--seed-collection NAME] [--ladder 5000,10000] [--rounds N] [--json]``.

1. The bundled corpus is ingested (real model) into collection ``bench`` of a bench data
   directory, reused when it exists. With ``--k8s`` the Kubernetes docs from
   ``../shared/corpora`` plus the bundled corpus go into collection ``bench-k8s``; ``--seed``
   copies a data dir that already holds the Kubernetes docs (e.g. the ingest benchmark's) so
   nothing is embedded twice.
2. Warm: one ``Assistant`` asks each question ``--rounds`` times (after one warm-up pass);
   p50/p95 of ``ask`` and ``retrieve``. The baseline, measured in the same run on the same
   questions: a bare ``embed_query`` + ``store.query`` of the same k.
3. Cold: ``kubeplan ask QUESTION --json`` in a fresh process, against ``python -c pass``.
4. Growth (``--ladder``): the bundled collection copied under other roots with its
   stored vectors to each chunk count (``benchmarks/scale.py``), then step 2 on each;
   the time to write the copies and to build the keyword index are reported beside it,
   with a table and a PNG plot under ``benchmarks/results/``.

Timings depend on the machine and on what else runs on it: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant import Assistant
from assistant.config import BUNDLED_CORPUS, Settings
from assistant.ingest import run_ingest
from assistant.store import ChromaStore
from benchmarks.scale import grow

REPO = Path(__file__).resolve().parent.parent
K8S_DOCS = REPO.parent / "shared" / "corpora" / "kubernetes-docs"
DEFAULT_DIR = REPO / ".kubeplan" / "bench-answer"
RESULTS = REPO / "benchmarks" / "results"
#: --no-ingest: use the seed's collection as it is (to time another checkout on it).
NO_INGEST = "--no-ingest" in sys.argv

QUESTIONS = [
    "How many etcd members should we run?",
    "Should we use EKS or run our own control plane with kubeadm? We are 4 engineers.",
    "We want to cut costs for stateless web services and nightly batch jobs.",
    "We are a bank with PCI workloads: namespaces or separate clusters per team?",
    "Which CNI should we pick for an on-prem cluster with BGP?",
    "How do we keep secrets out of Git with Argo CD?",
    "Vault or AWS Secrets Manager for our EKS clusters?",
    "How should we run Windows containers next to Linux ones?",
    "What do we need for GPU nodes for ML training?",
    "k3s for 300 retail stores with flaky links?",
    "Ingress controller or Gateway API for new clusters?",
    "How do developers log in to clusters with our Okta SSO?",
    "What should we monitor and alert on for the control plane?",
    "How do we make sure only signed images run?",
    "Should we run Postgres in the cluster or use RDS?",
    "How do we spread workloads across three availability zones?",
]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def prepare(
    data_dir: Path,
    collection: str,
    roots: list[Path],
    seed: Path | None,
    seed_collection: str | None,
) -> Assistant:
    if seed is not None and not data_dir.exists():
        shutil.copytree(seed, data_dir, ignore=shutil.ignore_patterns("ingest.lock*"))
    name = seed_collection if seed is not None and seed_collection else collection
    settings = Settings(data_dir=data_dir, collection=name, _env_file=None)  # type: ignore[call-arg]
    assistant = Assistant(settings)
    have = name in assistant.store.collections() and assistant.store.count(name) > 0
    wanted = [BUNDLED_CORPUS] if seed is not None else roots
    if not have or (seed is not None and not NO_INGEST):
        started = time.perf_counter()
        report = run_ingest(
            wanted, settings=settings, store=assistant.store, embedder=assistant.embedder
        )
        print(
            f"ingested {report.files_ingested} files, {report.chunks_embedded} chunks embedded "
            f"into {name!r} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return assistant


class _Counting:
    """Counts the calls made through a Chroma client and the collections it hands out."""

    def __init__(self, target: Any, calls: list[str]) -> None:
        self._target, self._calls = target, calls

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(attr)
            result = value(*args, **kwargs)
            if attr in ("get_collection", "get_or_create_collection"):
                return _Counting(result, self._calls)
            return result

        return call


def store_calls_per_ask(assistant: Assistant) -> float | None:
    """Calls reaching Chroma (client and collections) per warm ``ask``."""
    store = assistant.store
    client = getattr(store, "_client", None)
    if client is None:
        return None
    calls: list[str] = []
    store._client = _Counting(client, calls)  # type: ignore[attr-defined]
    # Cached collection handles came from the bare client: fetch them again through the
    # counting one (the warm-up answer), then count.
    getattr(store, "_handles", {}).clear()
    try:
        assistant.ask(QUESTIONS[0])
        calls.clear()
        for q in QUESTIONS:
            assistant.ask(q)
    finally:
        store._client = client  # type: ignore[attr-defined]
        getattr(store, "_handles", {}).clear()
    return round(len(calls) / len(QUESTIONS), 2)


def warm(assistant: Assistant, rounds: int) -> dict[str, Any]:
    k = assistant.settings.top_k
    name = assistant.settings.collection
    for q in QUESTIONS:  # warm-up: model, keyword index, catalogue, caches
        assistant.ask(q)
    store = assistant.store
    assert isinstance(store, ChromaStore)
    embedder = assistant.retriever._embedder
    pointer = store.pointer(name)
    # The floor: the query's forward pass and one HNSW search on a collection handle
    # fetched beforehand (no pointer, no conversion), the same code in every checkout.
    handle = store.raw_collection(pointer.physical if pointer else name)
    ask_ms: list[float] = []
    retrieve_ms: list[float] = []
    base_ms: list[float] = []
    embed_ms: list[float] = []
    floor_ms: list[float] = []

    def floor(q: str) -> Any:
        return handle.query(query_embeddings=[list(embedder.embed_query(q))],
                            n_results=3 * k, include=["documents", "metadatas", "distances"])

    def base(q: str) -> Any:
        return store.query(name, embedder.embed_query(q), k)

    # The query path without the forward pass: the same searches from vectors computed
    # beforehand, against the bare HNSW search of the same vectors.
    vectors = {q: [float(x) for x in embedder.embed_query(q)] for q in QUESTIONS}
    retriever = assistant.retriever
    hnsw_ms: list[float] = []
    search_ms: list[float] = []

    def hnsw(q: str) -> Any:
        return handle.query(query_embeddings=[vectors[q]], n_results=3 * k,
                            include=["documents", "metadatas", "distances"])

    def search(q: str) -> Any:
        return retriever.search(q, k, vector=vectors[q])

    for _ in range(rounds):
        for q in QUESTIONS:
            hnsw_ms.append(timed(partial(hnsw, q)))
            search_ms.append(timed(partial(search, q)))
            embed_ms.append(timed(partial(embedder.embed_query, q)))
            floor_ms.append(timed(partial(floor, q)))
            base_ms.append(timed(partial(base, q)))
            retrieve_ms.append(timed(partial(assistant.retrieve, q)))
            ask_ms.append(timed(partial(assistant.ask, q)))
    chunks = store.count(name)
    b50 = statistics.median(base_ms)
    return {
        "collection": name,
        "chunks": chunks,
        "samples": len(ask_ms),
        "store_calls_per_ask": store_calls_per_ask(assistant),
        "embed_p50_ms": round(statistics.median(embed_ms), 2),
        "hnsw_p50_ms": round(statistics.median(hnsw_ms), 2),
        "search_from_vector_p50_ms": round(statistics.median(search_ms), 2),
        "search_from_vector_p95_ms": round(percentile(search_ms, 0.95), 2),
        "floor_p50_ms": round(statistics.median(floor_ms), 2),
        "floor_p95_ms": round(percentile(floor_ms, 0.95), 2),
        "baseline_p50_ms": round(b50, 2),
        "baseline_p95_ms": round(percentile(base_ms, 0.95), 2),
        "retrieve_p50_ms": round(statistics.median(retrieve_ms), 2),
        "retrieve_p95_ms": round(percentile(retrieve_ms, 0.95), 2),
        "ask_p50_ms": round(statistics.median(ask_ms), 2),
        "ask_p95_ms": round(percentile(ask_ms, 0.95), 2),
        "retrieve_vs_baseline": round(statistics.median(retrieve_ms) / b50, 2),
        "ask_vs_baseline": round(statistics.median(ask_ms) / b50, 2),
    }


def cold(data_dir: Path, collection: str, runs: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "KUBEPLAN_DATA_DIR": str(data_dir),
        "KUBEPLAN_COLLECTION": collection,
    }
    kubeplan = Path(sys.executable).parent / "kubeplan"
    command = [str(kubeplan), "ask", QUESTIONS[0], "--json"]
    bare = [sys.executable, "-c", "pass"]
    ask_s: list[float] = []
    bare_s: list[float] = []
    ask_cpu: list[float] = []
    bare_cpu: list[float] = []
    for _ in range(runs):
        # CPU seconds of the child as well as wall time: on a shared machine the wall
        # time mostly measures the neighbours.
        before = _children_cpu()
        bare_s.append(timed(lambda: subprocess.run(bare, check=True, env=env)) / 1000)
        bare_cpu.append(_children_cpu() - before)
        before = _children_cpu()
        ask_s.append(
            timed(lambda: subprocess.run(command, check=True, env=env, capture_output=True))
            / 1000
        )
        ask_cpu.append(_children_cpu() - before)
    a50, b50 = statistics.median(ask_s), statistics.median(bare_s)
    c50, d50 = statistics.median(ask_cpu), statistics.median(bare_cpu)
    return {
        "runs": runs,
        "cold_ask_s": round(a50, 2),
        "python_start_s": round(b50, 3),
        "cold_vs_python_start": round(a50 / b50, 1),
        "cold_ask_cpu_s": round(c50, 2),
        "python_start_cpu_s": round(d50, 3),
    }


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ladder(base: Assistant, sizes: list[int], rounds: int) -> list[dict[str, Any]]:
    """Warm latency over collections grown to each size (copies of the base collection)."""
    store = base.store
    assert isinstance(store, ChromaStore)
    rows = []
    for size in sizes:
        target = f"grow-{size}"
        started = time.perf_counter()
        grow(store, base.settings.collection, target, size)
        write_s = time.perf_counter() - started
        settings = base.settings.model_copy(update={"collection": target})
        assistant = Assistant(settings, embedder=base.embedder, store=store)
        started = time.perf_counter()
        assistant.retriever._keyword.get(target)
        keyword_s = time.perf_counter() - started
        row = warm(assistant, rounds)
        row.update({"store_write_s": round(write_s, 2), "keyword_build_s": round(keyword_s, 2)})
        print(f"ladder {size}: {row}", file=sys.stderr)
        rows.append(row)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("ask_p50_ms", "ask p50"), ("ask_p95_ms", "ask p95"),
                       ("retrieve_p50_ms", "retrieve p50"),
                       ("baseline_p50_ms", "bare embed + store query p50")):
        ax.plot(x, [r[key] for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the collection")
    ax.set_ylabel("ms")
    ax.set_title("Warm answer latency as the collection grows")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--k8s", action="store_true", help="Also bundled corpus + k8s docs.")
    parser.add_argument("--seed", type=Path, help="Data dir that already holds the k8s docs.")
    parser.add_argument("--seed-collection", default="k8s-docs")
    parser.add_argument("--corpus-seed", type=Path,
                        help="Data dir that already holds the bundled corpus (copied).")
    parser.add_argument("--corpus-seed-collection", default="kubeplan")
    parser.add_argument("--no-ingest", action="store_true",
                        help="Use the seeded collection as it is (no ingest).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ladder", default="", help="chunk counts, e.g. 5000,20000")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    corpus = prepare(
        args.data_dir / "corpus", "bench", [BUNDLED_CORPUS], args.corpus_seed,
        args.corpus_seed_collection if args.corpus_seed else None,
    )
    results["corpus"] = warm(corpus, args.rounds)
    results["cold"] = cold(args.data_dir / "corpus", corpus.settings.collection, args.cold_runs)
    if args.k8s:
        big = prepare(
            args.data_dir / "k8s",
            "bench-k8s",
            [BUNDLED_CORPUS, K8S_DOCS],
            args.seed,
            args.seed_collection,
        )
        results["corpus+k8s"] = warm(big, args.rounds)
    sizes = [int(x) for x in args.ladder.split(",") if x.strip()]
    if sizes:
        results["ladder"] = ladder(corpus, sizes, args.rounds)
    results["load_average"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (RESULTS / f"answer-{stamp}.json").write_text(json.dumps(results, indent=2),
                                                  encoding="utf-8")
    if sizes:
        plot([results["corpus"], *results["ladder"]], RESULTS / f"growth-{stamp}.png")

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'set':<12} {'chunks':>7} {'ask p50':>9} {'ask p95':>9} {'retr p50':>9} "
          f"{'retr p95':>9} {'base p50':>9} {'ask/base':>9}")
    for key in ("corpus", "corpus+k8s"):
        r = results.get(key)
        if r:
            print(
                f"{key:<12} {r['chunks']:>7} {r['ask_p50_ms']:>9} {r['ask_p95_ms']:>9} "
                f"{r['retrieve_p50_ms']:>9} {r['retrieve_p95_ms']:>9} "
                f"{r['baseline_p50_ms']:>9} {r['ask_vs_baseline']:>9}"
            )
    for r in results.get("ladder", []):
        print(
            f"{'grow':<12} {r['chunks']:>7} {r['ask_p50_ms']:>9} {r['ask_p95_ms']:>9} "
            f"{r['retrieve_p50_ms']:>9} {r['retrieve_p95_ms']:>9} "
            f"{r['baseline_p50_ms']:>9} {r['ask_vs_baseline']:>9}"
        )
    c = results["cold"]
    print(
        f"cold `kubeplan ask`: {c['cold_ask_s']} s (python start {c['python_start_s']} s, "
        f"x{c['cold_vs_python_start']}); CPU {c['cold_ask_cpu_s']} s (python start "
        f"{c['python_start_cpu_s']} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
