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
from assistant.index.indexer import run_ingest
from assistant.index.store import ChromaStore
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


def store_calls_per_ask(assistant: Assistant) -> float | None:
    """Calls reaching Chroma (client and collections) per warm ``ask``."""
    store = assistant.store
    counting = getattr(store, "counting_calls", None)
    if counting is None:
        return None
    with counting() as calls:
        assistant.ask(QUESTIONS[0])  # fetches the collection handles through the counter
        calls.clear()
        for q in QUESTIONS:
            assistant.ask(q)
    return round(len(calls) / len(QUESTIONS), 2)


def warm(assistant: Assistant, rounds: int) -> dict[str, Any]:
    return warm_many({"": assistant}, rounds)[""]


def warm_many(assistants: dict[str, Assistant], rounds: int) -> dict[str, dict[str, Any]]:
    """``warm`` of several assistants (e.g. one per query encoder) over the same store,
    alternating between them question by question so that they share the machine's
    load alike."""
    probes = {label: _Probe(a) for label, a in assistants.items()}
    for _ in range(rounds):
        for q in QUESTIONS:
            for probe in probes.values():
                probe.step(q)
    return {label: probe.row() for label, probe in probes.items()}


class _Probe:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        k = self.k = assistant.settings.top_k
        name = self.name = assistant.settings.collection
        for q in QUESTIONS:  # warm-up: model, keyword index, catalogue, caches
            assistant.ask(q)
        store = self.store = assistant.store
        assert isinstance(store, ChromaStore)
        self.embedder = embedder = assistant.retriever._embedder
        pointer = store.pointer(name)
        # The floor: the query's forward pass and one HNSW search on a collection handle
        # fetched beforehand (no pointer, no conversion), the same code in every checkout.
        self.handle = store.raw_collection(pointer.physical if pointer else name)
        # The query path without the forward pass: the same searches from vectors
        # computed beforehand, against the bare HNSW search of the same vectors.
        self.vectors = {q: [float(x) for x in embedder.embed_query(q)] for q in QUESTIONS}
        self.ms: dict[str, list[float]] = {
            key: [] for key in ("ask", "retrieve", "base", "embed", "floor", "hnsw", "search")
        }
        _ = k

    def step(self, q: str) -> None:
        a, ms, k, handle = self.assistant, self.ms, self.k, self.handle
        include = ["documents", "metadatas", "distances"]
        ms["hnsw"].append(timed(lambda: handle.query(
            query_embeddings=[self.vectors[q]], n_results=3 * k, include=include)))
        ms["search"].append(timed(lambda: a.retriever.search(q, k, vector=self.vectors[q])))
        ms["embed"].append(timed(partial(self.embedder.embed_query, q)))
        ms["floor"].append(timed(lambda: handle.query(
            query_embeddings=[list(self.embedder.embed_query(q))], n_results=3 * k,
            include=include)))
        ms["base"].append(timed(lambda: self.store.query(self.name,
                                                         self.embedder.embed_query(q), k)))
        ms["retrieve"].append(timed(partial(a.retrieve, q)))
        ms["ask"].append(timed(partial(a.ask, q)))

    def row(self) -> dict[str, Any]:
        ms = self.ms
        b50 = statistics.median(ms["base"])

        def p50(key: str) -> float:
            return round(statistics.median(ms[key]), 2)

        def p95(key: str) -> float:
            return round(percentile(ms[key], 0.95), 2)

        return {
            "collection": self.name,
            "chunks": self.store.count(self.name),
            "query_encoder": getattr(self.embedder, "engine", "model"),
            "samples": len(ms["ask"]),
            "store_calls_per_ask": store_calls_per_ask(self.assistant),
            "embed_p50_ms": p50("embed"),
            "embed_p95_ms": p95("embed"),
            "hnsw_p50_ms": p50("hnsw"),
            "search_from_vector_p50_ms": p50("search"),
            "search_from_vector_p95_ms": p95("search"),
            "floor_p50_ms": p50("floor"),
            "floor_p95_ms": p95("floor"),
            "baseline_p50_ms": round(b50, 2),
            "baseline_p95_ms": p95("base"),
            "retrieve_p50_ms": p50("retrieve"),
            "retrieve_p95_ms": p95("retrieve"),
            "ask_p50_ms": p50("ask"),
            "ask_p95_ms": p95("ask"),
            "retrieve_vs_baseline": round(statistics.median(ms["retrieve"]) / b50, 2),
            "ask_vs_baseline": round(statistics.median(ms["ask"]) / b50, 2),
        }


def by_encoder(base: Assistant, encoders: list[str]) -> dict[str, Assistant]:
    """One assistant per ``query_encoder`` setting, sharing ``base``'s store and model."""
    return {
        e: Assistant(base.settings.model_copy(update={"query_encoder": e}),
                     embedder=base.embedder, store=base.store)
        for e in encoders
    }


def with_encoders(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The last encoder's row (the long-lived default, onnx, when listed last) with every
    encoder's row beside it under ``by_encoder``."""
    row = dict(list(rows.values())[-1])
    if len(rows) > 1:
        row["by_encoder"] = rows
    return row


def cold(
    data_dir: Path, collection: str, runs: int, baseline_tree: Path | None = None
) -> dict[str, Any]:
    """``baseline_tree``: another checkout whose cold ask is timed alternately with this
    one's (same interpreter, data and question), for a before/after ratio in one run."""
    env = {
        **os.environ,
        "KUBEPLAN_DATA_DIR": str(data_dir),
        "KUBEPLAN_COLLECTION": collection,
        "PYTHONPATH": str(REPO),
    }
    # A user's interpreter caches compiled modules; a shell that turned that off would
    # time compiling the package on every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    kubeplan = Path(sys.executable).parent / "kubeplan"
    command = [str(kubeplan), "ask", QUESTIONS[0], "--json"]
    bare = [sys.executable, "-c", "pass"]
    trees = {"ask": REPO, **({"baseline_ask": baseline_tree} if baseline_tree else {})}
    wall: dict[str, list[float]] = {"bare": [], **{t: [] for t in trees}}
    cpu: dict[str, list[float]] = {"bare": [], **{t: [] for t in trees}}

    def run(label: str, argv: list[str], tree: Path | None) -> None:
        # CPU seconds of the child as well as wall time: on a shared machine the wall
        # time mostly measures the neighbours.
        child = {**env, "PYTHONPATH": str(tree)} if tree else env
        before = _children_cpu()
        wall[label].append(timed(lambda: subprocess.run(
            argv, check=True, env=child, capture_output=True, cwd=tree)) / 1000)
        cpu[label].append(_children_cpu() - before)

    for _ in range(runs):
        run("bare", bare, None)
        for label, tree in trees.items():
            run(label, command, tree)
    a50, b50 = statistics.median(wall["ask"]), statistics.median(wall["bare"])
    result: dict[str, Any] = {
        "runs": runs,
        "cold_ask_s": round(a50, 2),
        "python_start_s": round(b50, 3),
        "cold_vs_python_start": round(a50 / b50, 1),
        "cold_ask_cpu_s": round(statistics.median(cpu["ask"]), 2),
        "python_start_cpu_s": round(statistics.median(cpu["bare"]), 3),
    }
    if baseline_tree:
        result.update({
            "baseline_tree": str(baseline_tree),
            "baseline_cold_ask_s": round(statistics.median(wall["baseline_ask"]), 2),
            "baseline_cold_ask_cpu_s": round(statistics.median(cpu["baseline_ask"]), 2),
            "cold_vs_baseline": round(a50 / statistics.median(wall["baseline_ask"]), 2),
            "cold_cpu_vs_baseline": round(
                statistics.median(cpu["ask"]) / statistics.median(cpu["baseline_ask"]), 2),
        })
    return result


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ladder(
    base: Assistant, sizes: list[int], rounds: int, encoders: list[str]
) -> list[dict[str, Any]]:
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
        row = with_encoders(warm_many(by_encoder(assistant, encoders), rounds))
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
    parser.add_argument("--cold-runs", type=int, default=3,
                        help="cold `kubeplan ask` runs (0 skips the cold start)")
    parser.add_argument("--query-encoders", default="numpy,onnx",
                        help="query_encoder settings measured side by side (the last one "
                        "is the headline row)")
    parser.add_argument("--cold-baseline-tree", type=Path,
                        help="another checkout whose cold ask is timed alternately")
    parser.add_argument("--only-ladder", action="store_true",
                        help="skip the corpus rows and the cold start")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cold_runs < 0 or args.rounds < 1:
        parser.error("--cold-runs must be 0 or more and --rounds 1 or more")

    results: dict[str, Any] = {}
    corpus = prepare(
        args.data_dir / "corpus", "bench", [BUNDLED_CORPUS], args.corpus_seed,
        args.corpus_seed_collection if args.corpus_seed else None,
    )
    encoders = [e for e in args.query_encoders.split(",") if e.strip()]
    if "onnx" in encoders:
        # What `kubeplan ingest` leaves for long-lived processes (once; cached).
        print(f"query model export: {corpus.export_query_model()}", file=sys.stderr)
    if not args.only_ladder:
        results["corpus"] = with_encoders(warm_many(by_encoder(corpus, encoders), args.rounds))
        if args.cold_runs > 0:
            results["cold"] = cold(args.data_dir / "corpus", corpus.settings.collection,
                                   args.cold_runs, args.cold_baseline_tree)
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
        results["ladder"] = ladder(corpus, sizes, args.rounds, encoders)
    results["load_average"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (RESULTS / f"answer-{stamp}.json").write_text(json.dumps(results, indent=2),
                                                  encoding="utf-8")
    if sizes:
        rows = [results["corpus"]] if "corpus" in results else []
        plot([*rows, *results["ladder"]], RESULTS / f"growth-{stamp}.png")

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'set':<12} {'chunks':>7} {'ask p50':>9} {'ask p95':>9} {'retr p50':>9} "
          f"{'retr p95':>9} {'base p50':>9} {'ask/base':>9}")
    labelled = [(key, results[key]) for key in ("corpus", "corpus+k8s") if key in results]
    for key, row in labelled:
        for encoder, r in row.get("by_encoder", {}).items():
            print(f"{key:<12} {r['chunks']:>7} {r['ask_p50_ms']:>9} {r['ask_p95_ms']:>9} "
                  f"(query encoder {encoder}: embed p50 {r['embed_p50_ms']} ms)")
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
    c = results.get("cold")
    if c is None:
        return 0
    print(
        f"cold `kubeplan ask`: {c['cold_ask_s']} s (python start {c['python_start_s']} s, "
        f"x{c['cold_vs_python_start']}); CPU {c['cold_ask_cpu_s']} s (python start "
        f"{c['python_start_cpu_s']} s)"
    )
    if "baseline_tree" in c:
        print(f"baseline {c['baseline_tree']}: {c['baseline_cold_ask_s']} s, CPU "
              f"{c['baseline_cold_ask_cpu_s']} s (this tree x{c['cold_vs_baseline']} wall, "
              f"x{c['cold_cpu_vs_baseline']} CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
