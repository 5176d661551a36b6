"""Many users: warm ``ask`` through a ``chroma run`` server by 1, 2, 4 and 8 clients at once.

Run: ``python -m benchmarks.bench_concurrency --data-dir DIR [--collection NAME]
[--clients 1,2,4,8] [--requests 32] [--json]`` where DIR holds an ingested collection
(e.g. the bench_answer data dir ``.kubeplan/bench-answer/corpus``, collection ``bench``).

The collection is copied with its vectors into a fresh ``chroma run`` server on a free
loopback port (``tests/chroma_server.py``). Each client is its own process with its own
``Assistant`` (``KUBEPLAN_CHROMA_URL`` set, its own keyword index), warmed up first; all
start together and share a bounded number of requests. Reported per level: throughput
(answers/s over the wall time of the level), p50/p95 latency, and their growth against
one client, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.bench_answer import QUESTIONS, percentile

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def copy_to_server(data_dir: Path, collection: str, url: str) -> int:
    from assistant.index.store import ChromaStore

    local = ChromaStore.persistent(data_dir / "chroma")
    remote = ChromaStore.http(url)
    chunks = list(local.iter_chunks(collection))
    vectors = local.vectors_by_content_hash(collection, [c.content_hash for c in chunks])
    meta = local.get_meta(collection)
    remote.set_meta(collection, {k: v for k, v in meta.items() if k != "last_ingest"})
    remote.upsert(collection, chunks, [vectors[c.content_hash] for c in chunks])
    return remote.count(collection)


def client(url: str, collection: str, data_dir: Path, start_file: Path,
           questions: list[str]) -> dict[str, Any]:
    from assistant import Assistant
    from assistant.config import Settings

    settings = Settings(  # type: ignore[call-arg]
        chroma_url=url, collection=collection, data_dir=data_dir, _env_file=None
    )
    assistant = Assistant(settings)
    assistant.ask(QUESTIONS[0])  # warm-up: query encoder, keyword index, catalogue
    print("ready", flush=True)
    while not start_file.exists():
        time.sleep(0.01)
    latencies = []
    began = time.time()
    for q in questions:
        started = time.perf_counter()
        assistant.ask(q)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"began": began, "ended": time.time(), "latencies_ms": latencies}


def level(url: str, collection: str, clients: int, requests: int, tmp: Path) -> dict[str, Any]:
    start_file = tmp / f"start-{clients}"
    procs = []
    for i in range(clients):
        share = [QUESTIONS[(i + j * clients) % len(QUESTIONS)]
                 for j in range(requests // clients)]
        spec = json.dumps({"url": url, "collection": collection,
                           "data_dir": str(tmp / f"c{clients}-{i}"),
                           "start": str(start_file), "questions": share})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_concurrency", "--client", spec],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        ))
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"client failed to start: {line!r}")
    start_file.touch()
    outs = []
    for p in procs:
        out, _ = p.communicate()
        outs.append(json.loads(out.strip().splitlines()[-1]))
    latencies = [x for o in outs for x in o["latencies_ms"]]
    wall = max(o["ended"] for o in outs) - min(o["began"] for o in outs)
    return {
        "clients": clients,
        "requests": len(latencies),
        "wall_s": round(wall, 2),
        "answers_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / ".kubeplan" / "bench-answer"
                        / "corpus")
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        spec = json.loads(args.client)
        print(json.dumps(client(spec["url"], spec["collection"], Path(spec["data_dir"]),
                                Path(spec["start"]), spec["questions"])))
        return 0

    from tests.chroma_server import running_server

    levels = [int(x) for x in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="kubeplan-bench-conc-") as tmp_name:
        tmp = Path(tmp_name)
        with running_server(tmp / "server") as url:
            chunks = copy_to_server(args.data_dir, args.collection, url)
            rows = [level(url, args.collection, n, args.requests, tmp) for n in levels]
    one = rows[0]
    for r in rows:
        r["throughput_vs_1"] = round(r["answers_per_s"] / one["answers_per_s"], 2)
        r["p95_vs_1"] = round(r["p95_ms"] / one["p95_ms"], 2)
    result = {"chunks": chunks, "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "levels": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (RESULTS / f"concurrency-{stamp}.json").write_text(json.dumps(result, indent=2),
                                                       encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{chunks} chunks through a chroma server, {os.cpu_count()} cores")
    print(f"{'clients':>7} {'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'thr x1':>7} "
          f"{'p95 x1':>7}")
    for r in rows:
        print(f"{r['clients']:>7} {r['answers_per_s']:>10} {r['p50_ms']:>8} {r['p95_ms']:>8} "
              f"{r['throughput_vs_1']:>7} {r['p95_vs_1']:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
