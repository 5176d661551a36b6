"""Reader latency while another process ingests, against the same readers idle.

Run: ``.venv/bin/python -m benchmarks.bench_readers [--readers 8] [--seconds 30]
[--delay 0.06] [--work DIR] [--json]``.

Both phases start ``--readers`` reader processes on one embedded store (the load of
``tests/rw_support.py``: hybrid ``retrieve``, ``count`` and a full id listing in a loop,
FakeEmbedder, local files only). The baseline phase has no writer; the measured phase
adds one writer that alternates two corpora and ingests after each switch, publishing a
new generation every time. The figure is the ratio of the retrieve p95 under ingest to
the idle p95, measured in the same run; errors and partial observations are counted too.
A third phase runs the same writer against another data folder: the same CPU load with
nothing to follow, which separates the cost of sharing two cores with a writer from the
cost of following its publishes. Under ingest, requests are also split into those on a
generation the reader had already used and each reader's first request on a newly
published generation (which opens the new collection and keyword index cold).
Timings depend on what else runs on the machine: compare the ratio, not milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.rw_support import run


def measure(work: Path, readers: int, seconds: float, delay: float) -> dict[str, Any]:
    idle = run(work, readers=readers, seconds=seconds, with_writer=False)
    elsewhere = run(
        work,
        readers=readers,
        seconds=seconds,
        with_writer=True,
        delay=delay,
        writer_elsewhere=True,
    )
    busy = run(work, readers=readers, seconds=seconds, with_writer=True, delay=delay)
    summary: dict[str, Any] = {
        phase: {
            key: data[key]
            for key in (
                "requests", "observations", "ingests", "p50_ms", "p95_ms", "seen",
                "p95_steady_ms", "first_on_generation", "p95_first_on_generation_ms",
            )
        }
        | {"errors": len(data["errors"]), "partial": len(data["bad"])}
        for phase, data in (("idle", idle), ("writer_elsewhere", elsewhere), ("under_ingest", busy))
    }
    summary["p95_ratio"] = round(busy["p95_ms"] / idle["p95_ms"], 2)
    summary["p50_ratio"] = round(busy["p50_ms"] / idle["p50_ms"], 2)
    summary["p95_ratio_same_cpu_load"] = round(busy["p95_ms"] / elsewhere["p95_ms"], 2)
    summary["p95_steady_ratio"] = round(busy["p95_steady_ms"] / idle["p95_ms"], 2)
    summary["readers"] = readers
    summary["seconds_per_phase"] = seconds
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--delay",
        type=float,
        default=0.06,
        help="Seconds per text the fake embedder takes: 0.06 is the real model on 2 cores.",
    )
    parser.add_argument("--work", type=Path, help="Work folder (default: a temporary one).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kubeplan-bench-readers-"))
    try:
        result = measure(work, args.readers, args.seconds, args.delay)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for phase in ("idle", "writer_elsewhere", "under_ingest"):
        r = result[phase]
        print(
            f"{phase:>13}: {r['requests']} retrieves, {r['observations']} observations, "
            f"{r['ingests']} ingests, {r['errors']} errors, {r['partial']} partial; "
            f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms"
        )
    print(f"p95 under ingest / idle: {result['p95_ratio']}x (p50 {result['p50_ratio']}x)")
    print(
        "p95 under ingest / same CPU load with nothing to follow: "
        f"{result['p95_ratio_same_cpu_load']}x"
    )
    busy = result["under_ingest"]
    print(
        f"under ingest, requests on an already-open generation: p95 "
        f"{busy['p95_steady_ms']:.1f} ms ({result['p95_steady_ratio']}x idle); first requests "
        f"on a new generation ({busy['first_on_generation']}): p95 "
        f"{busy['p95_first_on_generation_ms']:.1f} ms"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
