"""Ingest throughput: kubeplan's pipeline against raw ``model.encode`` on the same texts.

Run: ``.venv/bin/python -m benchmarks.bench_ingest [--path DIR] [--limit N] [--json]``.

1. A full ingest with the real embedder into a throw-away data directory.
2. The baseline, in the same run: ``SentenceTransformer.encode`` alone on exactly the
   texts the pipeline embedded (no loading, chunking or storing); the faster of two runs.
3. A second, unchanged ingest: what a no-op re-run costs relative to the first.

Timings depend on the machine and on what else runs on it: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.chunking import embedding_text
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.ingest import ingest
from assistant.store import ChromaStore

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / (
    "eks-best-practices"
)


def _subset(source: Path, limit: int, target: Path) -> Path:
    """Copy the first ``limit`` Markdown files so the benchmark runs in minutes."""
    files = sorted(p for p in source.rglob("*.md") if p.name != "LICENSE-NOTE.md")[:limit]
    for path in files:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="documents to ingest")
    parser.add_argument("--limit", type=int, default=40, help="at most this many .md files")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if not args.path.is_dir():
        print(f"{args.path} is not a folder", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="kubeplan-bench-") as tmp:
        docs = _subset(args.path, args.limit, Path(tmp) / "docs")
        settings = Settings(data_dir=Path(tmp) / "data", _env_file=None)  # type: ignore[call-arg]
        embedder = SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)
        # Load the model before timing anything, so neither side pays for it.
        embedder.embed_documents(["warm-up"])

        first = ingest([docs], settings=settings, embedder=embedder)
        store = ChromaStore.persistent(settings.store_dir)
        texts = [embedding_text(c) for c in store.iter_chunks(settings.collection)]

        model = embedder._model()

        def encode_seconds() -> float:
            started = time.perf_counter()
            model.encode(
                texts,
                batch_size=settings.embed_batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            return time.perf_counter() - started

        # Other processes share the CPU: the faster of two baseline runs is the fairer one.
        baseline_seconds = min(encode_seconds(), encode_seconds())

        second = ingest([docs], settings=settings, embedder=embedder)

    pipeline_rate = first.chunks_embedded / first.seconds if first.seconds else 0.0
    baseline_rate = len(texts) / baseline_seconds if baseline_seconds else 0.0
    result = {
        "files": first.files_seen,
        "chunks": first.chunks_embedded,
        "pipeline_seconds": round(first.seconds, 2),
        "pipeline_chunks_per_second": round(pipeline_rate, 1),
        "baseline_encode_seconds": round(baseline_seconds, 2),
        "baseline_chunks_per_second": round(baseline_rate, 1),
        "pipeline_vs_baseline": round(pipeline_rate / baseline_rate, 3) if baseline_rate else None,
        "rerun_seconds": round(second.seconds, 3),
        "rerun_chunks_embedded": second.chunks_embedded,
        "rerun_cost_ratio": round(second.seconds / first.seconds, 4) if first.seconds else None,
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
