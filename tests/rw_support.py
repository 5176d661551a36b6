"""One writer and many reader processes on one embedded store, on this machine only.

The load behind ``tests/test_readers_writers.py`` and ``benchmarks/bench_readers.py``.
The writer alternates two known corpora in one folder (A: every file, B: the first half)
and ingests after each switch, so every complete generation holds exactly the chunk ids
of A or of B; readers retrieve, count and list the collection in a loop and record any
error and any observation that is neither A nor B (which would be half an ingest).
FakeEmbedder keeps the CPU cost low.

Run one role by hand: ``python -m tests.rw_support reader|writer ...`` (see ``main``).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant import Assistant
from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import ingest

REPO = Path(__file__).resolve().parent.parent
COLLECTION = "kubeplan"
QUERIES = [
    "doc3 sec1 word5",
    "word12 sec0 doc7",
    "sec2 word30",
    "doc11 word2 word3",
    "doc1 sec3",
    "word39 doc14",
]


def settings_for(data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir, embedder="fake", embed_batch_size=8, lock_timeout=60, _env_file=None
    )


def make_source(root: Path, files: int = 16, paragraphs: int = 4) -> Path:
    """``root/src``: every file of corpus A; B is the first half of them."""
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        body = "\n\n".join(
            f"## Section {j}\n\n" + " ".join(f"doc{i} sec{j} word{k}" for k in range(40))
            for j in range(paragraphs)
        )
        (src / f"doc{i:02d}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")
    return src


def use_corpus(src: Path, docs: Path, which: str) -> None:
    """Make ``docs`` hold corpus ``which`` ("a" or "b")."""
    files = sorted(src.glob("*.md"))
    wanted = files if which == "a" else files[: len(files) // 2]
    docs.mkdir(parents=True, exist_ok=True)
    names = {f.name for f in wanted}
    for old in docs.glob("*.md"):
        if old.name not in names:
            old.unlink()
    for f in wanted:
        if not (docs / f.name).exists():
            shutil.copy(f, docs / f.name)


def ingest_corpus(data_dir: Path, src: Path, docs: Path, which: str, delay: float) -> None:
    use_corpus(src, docs, which)
    ingest([docs], settings=settings_for(data_dir), embedder=FakeEmbedder(delay=delay))


def expected_sets(data_dir: Path, src: Path, docs: Path) -> dict[str, list[str]]:
    """Ingest A, then B, and record the chunk ids of each complete generation."""
    from assistant.index.store import ChromaStore

    found = {}
    for which in ("a", "b"):
        ingest_corpus(data_dir, src, docs, which, 0.0)
        store = ChromaStore.persistent(settings_for(data_dir).store_dir)
        found[which] = sorted(c.id for c in store.iter_chunks(COLLECTION))
    return found


def wait_for_go(go: Path, ready: Path) -> tuple[float, float]:
    """Say this process is ready, then wait for the common start and end times."""
    ready.write_text("ready")
    while not go.exists():
        time.sleep(0.05)
    times = json.loads(go.read_text())
    time.sleep(max(0.0, times["start"] - time.time()))
    return float(times["start"]), float(times["end"])


def writer(data_dir: Path, src: Path, docs: Path, go: Path, delay: float) -> int:
    """Alternate A and B until the end; print one JSON line per ingest."""
    from assistant.index.store import ChromaStore

    ChromaStore.persistent(settings_for(data_dir).store_dir)  # warm: imports, client
    _start, end = wait_for_go(go, go.with_name("ready-writer"))
    n = 0
    while time.time() < end:
        which = "a" if n % 2 == 0 else "b"
        began = time.perf_counter()
        ingest_corpus(data_dir, src, docs, which, delay)
        n += 1
        print(json.dumps({"corpus": which, "seconds": time.perf_counter() - began}), flush=True)
    return n


def reader(
    data_dir: Path, expected: dict[str, list[str]], go: Path, name: str, pause: float
) -> dict[str, Any]:
    """Observe the collection until ``end``; returns errors, bad observations, latencies."""
    sets = {k: frozenset(v) for k, v in expected.items()}
    counts = {len(v): k for k, v in sets.items()}
    every = sets["a"] | sets["b"]
    assistant = Assistant(settings_for(data_dir), embedder=FakeEmbedder())
    assistant.retrieve(QUERIES[0], k=5)  # warm: imports, client, keyword index
    _start, end = wait_for_go(go, go.with_name(f"ready-{name}"))
    errors: list[str] = []
    bad: list[str] = []
    latencies: list[float] = []
    #: Whether each retrieve was this process's first on a newly published generation
    #: (it opens the new physical collection and its keyword index cold).
    first_on_generation: list[bool] = []
    generations: set[str] = set()
    seen: dict[str, int] = {"a": 0, "b": 0}
    observations = 0
    i = 0
    while time.time() < end:
        i += 1
        query = QUERIES[i % len(QUERIES)]
        try:
            pointer = assistant.store.pointer(COLLECTION)
            generation = pointer.physical if pointer else COLLECTION
            began = time.perf_counter()
            hits = assistant.retrieve(query, k=5)
            latencies.append((time.perf_counter() - began) * 1000)
            first_on_generation.append(generation not in generations)
            generations.add(generation)
            if not hits or not {h.id for h in hits} <= every:
                bad.append(f"retrieve {query!r}: {[h.id for h in hits]}")
            n = assistant.store.count(COLLECTION)
            observations += 1
            if n not in counts:
                bad.append(f"count {n}, expected one of {sorted(counts)}")
            else:
                seen[counts[n]] += 1
            if i % 4 == 0:
                ids = frozenset(c.id for c in assistant.store.iter_chunks(COLLECTION))
                observations += 1
                if ids not in (sets["a"], sets["b"]):
                    bad.append(f"id set of {len(ids)} chunks is neither A nor B")
        except Exception as exc:  # every failure is the finding, not a crash of the load
            errors.append(f"{type(exc).__name__}: {exc}"[:500])
        time.sleep(pause)
    return {
        "requests": len(latencies),
        "observations": observations,
        "errors": errors,
        "bad": bad,
        "seen": seen,
        "latencies_ms": latencies,
        "first_on_generation": first_on_generation,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(
    work: Path,
    *,
    readers: int = 8,
    seconds: float = 60.0,
    with_writer: bool = True,
    delay: float = 0.005,
    pause: float = 0.02,
    startup: float = 300.0,
    writer_elsewhere: bool = False,
) -> dict[str, Any]:
    """Start the processes, wait for them, and summarise what they saw.

    ``writer_elsewhere`` points the writer at another data folder: the same CPU load,
    but nothing for the readers to follow (isolates the cost of following publishes).
    """
    data_dir, src, docs = work / "data", work / "src", work / "docs"
    writer_data, writer_docs = (
        (work / "data-elsewhere", work / "docs-elsewhere") if writer_elsewhere else (data_dir, docs)
    )
    if not src.exists():
        make_source(work)
    expected_path = work / "expected.json"
    if not expected_path.exists():
        expected_path.write_text(json.dumps(expected_sets(data_dir, src, docs)))
    expected = json.loads(expected_path.read_text())
    go = work / "go.json"
    for stale in [go, *work.glob("ready-*")]:
        stale.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tests.rw_support"]
    outs = [work / f"reader-{i}.json" for i in range(readers)]
    for out in outs:
        out.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [
                *cmd,
                "reader",
                str(data_dir),
                str(expected_path),
                str(go),
                str(i),
                str(pause),
                str(out),
            ],
            cwd=REPO,
            env=env,
        )
        for i, out in enumerate(outs)
    ]
    writer_proc = None
    if with_writer:
        writer_proc = subprocess.Popen(
            [*cmd, "writer", str(writer_data), str(src), str(writer_docs), str(go), str(delay)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
    # Start the clock once every process has warmed up: start-up is not what is measured.
    expected_ready = readers + (1 if with_writer else 0)
    deadline = time.time() + startup
    while len(list(work.glob("ready-*"))) < expected_ready and time.time() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.1)
    start = time.time() + 0.5
    go.write_text(json.dumps({"start": start, "end": start + seconds}))
    ingests: list[dict[str, Any]] = []
    try:
        if writer_proc is not None:
            out, _ = writer_proc.communicate(timeout=seconds + 300)
            ingests = [json.loads(line) for line in out.splitlines() if line.strip()]
        for p in procs:
            p.wait(timeout=seconds + 300)
    finally:
        for p in [*procs, *([writer_proc] if writer_proc else [])]:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = [json.loads(o.read_text()) for o in outs if o.exists()]
    latencies = [x for r in results for x in r["latencies_ms"]]
    firsts = [f for r in results for f in r.get("first_on_generation", [])]
    steady = [x for x, f in zip(latencies, firsts, strict=True) if not f]
    cold = [x for x, f in zip(latencies, firsts, strict=True) if f]
    return {
        "readers": readers,
        "readers_reported": len(results),
        "seconds": seconds,
        "ingests": len(ingests),
        "writer_rc": writer_proc.returncode if writer_proc else None,
        "ingest_seconds_p50": statistics.median([i["seconds"] for i in ingests])
        if ingests
        else None,
        "requests": sum(r["requests"] for r in results),
        "observations": sum(r["observations"] for r in results),
        "errors": [e for r in results for e in r["errors"]],
        "bad": [b for r in results for b in r["bad"]],
        "seen": {k: sum(r["seen"][k] for r in results) for k in ("a", "b")},
        "chunks": {k: len(v) for k, v in expected.items()},
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        # Requests on a generation the reader had already used, and first requests on a
        # newly published one: what following a publish costs, apart from the rest.
        "p95_steady_ms": percentile(steady, 95),
        "first_on_generation": len(cold),
        "p95_first_on_generation_ms": percentile(cold, 95),
    }


def main(argv: list[str]) -> None:
    role = argv[0]
    if role == "writer":
        data_dir, src, docs, go, delay = argv[1:6]
        writer(Path(data_dir), Path(src), Path(docs), Path(go), float(delay))
    elif role == "reader":
        data_dir, expected, go, name, pause, out = argv[1:7]
        result = reader(
            Path(data_dir),
            json.loads(Path(expected).read_text()),
            Path(go),
            name,
            float(pause),
        )
        Path(out).write_text(json.dumps(result))
    else:
        raise SystemExit(f"unknown role {role!r}: reader or writer")


if __name__ == "__main__":
    main(sys.argv[1:])
