"""Fuzzing ingest with hostile files (issue 13).

``FUZZ_FILES`` files (1,000 by default; ``FUZZ_FILES=5000 pytest tests/test_fuzz_ingest.py``
runs more, ``FUZZ_SEED=n`` another sample) are drawn with hypothesis across Markdown,
AsciiDoc, HTML, text and PDF: YAML alias bombs, deep nesting, huge lines, broken
encodings, binary soup, truncated PDFs; plus named pipes, a socket, symbolic-link loops,
links out of the root and a file name that is not UTF-8. They are ingested in a
subprocess (the fake embedder, a persistent store) after a good file, and the run must
end with:

- no crash: the ingest returns, every file is ingested, unchanged, skipped or failed,
  and every skip or failure carries a reason;
- no hang: the subprocess finishes within its timeout and no single file takes longer
  than ``PER_FILE_SECONDS``;
- bounded memory: the subprocess's peak RSS, and its parse workers' (files are parsed
  in worker processes, ``assistant/parse_worker.py``), stay under ``RSS_CAP_MB``;
- nothing lost: the good file's chunks are all still stored.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from assistant.errors import KubeplanError
from assistant.index.embedding import FakeEmbedder
from assistant.ingest.chunking import chunk_document
from assistant.ingest.loading import FoundFile, parse_file
from tests.fuzz_support import build, file_specs

REPO = Path(__file__).resolve().parent.parent.parent
FUZZ_FILES = int(os.environ.get("FUZZ_FILES", "1000"))
FUZZ_SEED = os.environ.get("FUZZ_SEED")
RSS_CAP_MB = 1536
PER_FILE_SECONDS = 20.0
PARSE_TIMEOUT = 3.0

GOOD = "# Good\n\nRun three etcd members across zones so quorum survives a zone outage.\n"

RUNNER = r"""
import json, resource, sys, time
from pathlib import Path
from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import run_ingest
from assistant.ingest.parse_worker import close_idle_workers
from assistant.index.store import ChromaStore

data, good, fuzz, parse_timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
settings = Settings(data_dir=Path(data), embedder="fake", parse_timeout=parse_timeout,
                    _env_file=None)
store = ChromaStore.persistent(settings.store_dir)
embedder = FakeEmbedder()
first = run_ingest([Path(good)], settings=settings, store=store, embedder=embedder)
good_ids = store.ids_by_path("kubeplan")
times = {}
last = [time.perf_counter(), ""]

def progress(event):
    now = time.perf_counter()
    if event.current:
        times[event.current] = times.get(event.current, 0.0) + now - last[0]
    last[0] = now

def _peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


started = time.perf_counter()
report = run_ingest([Path(fuzz)], settings=settings, store=store, embedder=embedder,
                    progress=progress)
after = store.ids_by_path("kubeplan")
close_idle_workers()  # waited for, so RUSAGE_CHILDREN covers every parse worker
slowest = max(times.items(), key=lambda kv: kv[1]) if times else ("", 0.0)
print(json.dumps({
    "report": report.model_dump(mode="json"),
    "good_ingested": first.files_ingested,
    "good_intact": all(after.get(s, set()) >= ids for s, ids in good_ids.items()),
    "good_chunks": sum(len(v) for v in good_ids.values()),
    "seconds": time.perf_counter() - started,
    "slowest": slowest,
    # VmHWM: this process's own peak (ru_maxrss carries the forking pytest's size); the
    # parse workers' peak (an upper bound: it includes this process's size at the fork).
    "peak_rss_mb": _peak_kb() / 1024,
    "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def generate_specs(n: int) -> list[tuple[str, int, int]]:
    specs: list[tuple[str, int, int]] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=FUZZ_SEED is None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=file_specs())
    def collect(spec: tuple[str, int, int]) -> None:
        specs.append(spec)

    if FUZZ_SEED is not None:
        collect = seed(int(FUZZ_SEED))(collect)
    collect()
    return specs


def write_specials(folder: Path) -> int:
    """Files no generator can draw: pipes, a socket, link loops, links out, bad names."""
    os.mkfifo(folder / "pipe.md")
    os.mkfifo(folder / "pipe.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.md"))
    server.close()
    (folder / "loop").symlink_to(folder)  # directory loop
    (folder / "self.md").symlink_to(folder / "self.md")  # ELOOP
    (folder / "dangling.md").symlink_to(folder / "missing.md")
    (folder / "passwd.txt").symlink_to("/etc/passwd")  # leaves the root
    (folder / "dir.md").mkdir()
    (folder / "dir.md" / "inner.md").write_text(GOOD)
    with open(os.fsencode(folder) + b"/caf\xe9-\xff.md", "wb") as handle:
        handle.write(GOOD.encode())
    return 10


@pytest.mark.slow
def test_fuzzed_files_never_crash_hang_blow_memory_or_lose_data(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "good.md").write_text(GOOD)
    fuzz = tmp_path / "fuzz"
    fuzz.mkdir()
    specs = generate_specs(FUZZ_FILES)
    for i, spec in enumerate(specs):
        suffix, data = build(spec)
        (fuzz / f"{i:05d}-{spec[0]}.{suffix}").write_bytes(data)
    specials = write_specials(fuzz)
    assert len(specs) >= FUZZ_FILES
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "data"), str(good), str(fuzz),
         str(PARSE_TIMEOUT)],
        capture_output=True, text=True, timeout=max(240, FUZZ_FILES // 4),
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    (tmp_path / "fuzz-result.json").write_text(out.stdout)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    report = result["report"]
    accounted = (
        report["files_ingested"] + report["files_unchanged"] + len(report["files_failed"])
        + sum(1 for i in report["files_skipped"] if i["reason"])
    )
    # Every generated file and special is accounted for (walk-time skips included).
    assert report["files_seen"] >= len(specs)
    assert accounted >= report["files_seen"]
    assert all(i["reason"].strip() for i in report["files_skipped"] + report["files_failed"])
    assert result["good_ingested"] == 1 and result["good_chunks"] > 0 and result["good_intact"]
    assert result["slowest"][1] < PER_FILE_SECONDS, result["slowest"]
    assert result["peak_rss_mb"] < RSS_CAP_MB, result["peak_rss_mb"]
    assert 0 < result["worker_peak_rss_mb"] < RSS_CAP_MB, result["worker_peak_rss_mb"]
    reasons = " ".join(i["reason"] for i in report["files_skipped"])
    for expected in ("named pipe", "socket", "binary file", "not valid UTF-8",
                     "symbolic link leaves the root"):
        assert expected in reasons, expected
    # The figures for the record (pytest -s shows them).
    print(
        f"\nfuzz: {len(specs)} generated + {specials} special files, "
        f"{report['files_ingested']} ingested, {len(report['files_skipped'])} skipped, "
        f"{len(report['files_failed'])} failed (with reasons), 0 crashes; "
        f"{result['seconds']:.1f} s, slowest file {result['slowest'][1]:.2f} s "
        f"({result['slowest'][0]}), peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(parse workers {result['worker_peak_rss_mb']:.0f} MB), "
        f"{report['secrets_redacted']} credentials redacted"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=file_specs())
def test_each_hostile_file_parses_or_is_skipped_with_a_reason(spec: tuple[str, int, int]) -> None:
    """In process, per file: a document within budget, or a KubeplanError with a reason;
    never any other exception."""
    suffix, data = build(spec)
    found = FoundFile(Path("/nonexistent-root"), f"f.{suffix}")
    fake = FakeEmbedder()
    try:
        doc = parse_file(found, data, timeout=PARSE_TIMEOUT)
    except KubeplanError as exc:
        assert exc.problem.strip()
        return
    for chunk in chunk_document(doc, collection="c", count_tokens=fake.count_tokens,
                                max_tokens=200):
        assert chunk.tokens <= 200
