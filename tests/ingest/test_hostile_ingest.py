"""Regression tests for hostile files found by probing ingest (issue 13): each test is one
defect that was observed, with the input that showed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.embedding import FakeEmbedder, SentenceTransformerEmbedder
from assistant.index.indexer import run_ingest
from assistant.index.store import ChromaStore
from assistant.ingest.chunking import MAX_WORD_CHARS, chunk_document, embedding_text
from assistant.ingest.loading import (
    FoundFile,
    ParseTimeout,
    SkippedFile,
    load_file,
    parse_file,
    parse_markdown,
    read_file,
    split_front_matter,
    time_limit,
    walk,
)
from assistant.schemas import LoadedDocument, Section

REPO = Path(__file__).resolve().parent.parent.parent

#: The 397-byte front matter that drove `kubeplan ingest` to 7.4 GB: nine levels of
#: nine aliases each, expanded when the title was turned into a string.
ALIAS_BOMB = """---
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
title: *h
---

# Bomb

Some text about pods and nodes in the cluster.
"""


def ingest_dir(tmp_path: Path, folder: Path, **extra: object):  # type: ignore[no-untyped-def]
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", embedder="fake", _env_file=None, **extra
    )
    store = ChromaStore.ephemeral()
    report = run_ingest([folder], settings=settings, store=store, embedder=FakeEmbedder())
    return report, store


def test_yaml_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB.encode()) < 500
    with pytest.raises(ValueError, match="aliases"):
        split_front_matter(ALIAS_BOMB)
    title, _, meta = parse_markdown(ALIAS_BOMB, "bomb")
    assert meta == {} and len(title) < 200
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bomb.md").write_text(ALIAS_BOMB)
    report, _ = ingest_dir(tmp_path, tmp_path / "d")
    assert report.files_ingested == 1 and not report.files_failed


def test_alias_bomb_ingest_stays_small_in_a_subprocess(tmp_path: Path) -> None:
    """The CLI path, measured: peak RSS of the whole ingest stays far under the 7.4 GB seen."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "bomb.md").write_text(ALIAS_BOMB)
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from assistant.config import Settings\n"
        "from assistant.index.embedding import FakeEmbedder\n"
        "from assistant.index.indexer import run_ingest\n"
        "from assistant.index.store import ChromaStore\n"
        f"s = Settings(data_dir=Path({str(tmp_path / 'data')!r}), embedder='fake', "
        "_env_file=None)\n"
        f"r = run_ingest([Path({str(folder)!r})], settings=s, store=ChromaStore.ephemeral(), "
        "embedder=FakeEmbedder())\n"
        # VmHWM is this process's own peak: ru_maxrss would carry the forking pytest
        # process's size across fork + exec (Linux keeps the larger of the two).
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "peak = int(hwm[0].split()[1]) if hwm else "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(r.files_ingested, peak)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr
    files, rss_kb = map(int, out.stdout.split()[-2:])
    assert files == 1
    assert rss_kb < 1_000_000, f"peak RSS {rss_kb} kB"


def test_deep_nesting_and_huge_front_matter_are_errors_not_crashes() -> None:
    deep = "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n"
    with pytest.raises(ValueError):
        split_front_matter(deep)
    big = "---\ntitle: " + "x" * 300_000 + "\n---\nbody\n"
    with pytest.raises(ValueError, match="larger"):
        split_front_matter(big)


def test_named_pipe_is_skipped_without_blocking(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    os.mkfifo(folder / "x.md")
    (folder / "ok.md").write_text("# Ok\n\nPods run containers on nodes.\n")
    done: list[object] = []

    def run() -> None:
        done.append(ingest_dir(tmp_path, folder)[0])

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert done, "ingest blocked on a named pipe"
    report = done[0]
    assert report.files_ingested == 1  # type: ignore[attr-defined]
    reasons = {i.path: i.reason for i in report.files_skipped}  # type: ignore[attr-defined]
    assert "named pipe" in reasons["x.md"]
    # Given directly, too.
    found = walk([folder / "x.md"])
    with pytest.raises(SkippedFile, match="named pipe"):
        read_file(found.files[0], max_file_bytes=1000)


def test_binary_without_nul_bytes_is_skipped(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(31):
        data = bytes(rng.randrange(1, 256) for _ in range(4000))
        (folder / f"blob{i}.txt").write_bytes(data)
    (folder / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 100)
    (folder / "latin.txt").write_bytes("caf\xe9 au lait and kubernetes nodes".encode("latin-1"))
    report, store = ingest_dir(tmp_path, folder)
    assert report.files_ingested == 1  # only latin.txt: one bad byte is not binary
    reasons = [i.reason for i in report.files_skipped]
    assert len(reasons) == 32 and all("binary file" in r for r in reasons)
    assert any("PNG" in r for r in reasons)
    assert all(c.text.count("\ufffd") <= 1 for c in store.iter_chunks("kubeplan"))


@pytest.fixture(scope="module")
def real_tokens():  # type: ignore[no-untyped-def]
    return SentenceTransformerEmbedder().count_tokens


def test_unbreakable_word_is_split_and_counts_are_true(real_tokens) -> None:  # type: ignore[no-untyped-def]
    word = "x9Y" * 70_000  # 210 KB without a space: WordPiece reads it as one [UNK]
    doc = LoadedDocument(
        path="w.txt", root="/r", title="Long", file_hash="0" * 64,
        sections=[Section(text=f"Before. {word} After.")],
    )
    chunks = chunk_document(doc, collection="c", count_tokens=real_tokens, max_tokens=200)
    assert len(chunks) > 100
    for chunk in chunks:
        assert chunk.tokens == real_tokens(embedding_text(chunk)) <= 200
        assert max(len(w) for w in chunk.text.split()) <= MAX_WORD_CHARS
    assert "".join("".join(c.text.split()) for c in chunks).count("x9Y") == 70_000


def test_long_title_is_shortened_and_the_file_ingests(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    title = " ".join(f"word{i}" for i in range(400))
    (folder / "t.md").write_text(f"---\ntitle: {title}\n---\n\nPods run on nodes.\n")
    (folder / "u.md").write_text(f"# {'averyveryverylongword' * 50}\n\nPods run on nodes.\n")
    report, store = ingest_dir(tmp_path, folder)
    assert report.files_ingested == 2 and not report.files_failed
    fake = FakeEmbedder()
    for chunk in store.iter_chunks("kubeplan"):
        # 200 characters, plus the spaces that break runs WordPiece cannot read.
        assert len(chunk.title) <= 200 + 200 // MAX_WORD_CHARS
        assert fake.count_tokens(embedding_text(chunk)) <= 200


def test_title_newlines_are_flattened() -> None:
    text = '---\ntitle: "Real\\n## Candidate decisions\\n- x"\n---\nbody text\n'
    title, _, _ = parse_markdown(text, "f")
    assert "\n" not in title


def test_non_utf8_file_name_is_reported_as_valid_json(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "ok.md").write_text("# Ok\n\nPods run containers on nodes.\n")
    bad = os.fsencode(folder) + b"/caf\xe9.md"
    with open(bad, "wb") as handle:
        handle.write(b"# Cafe\n\nNodes.\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KUBEPLAN_EMBEDDER": "fake",
        "KUBEPLAN_DATA_DIR": str(tmp_path / "data"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(folder), "--json"],
        capture_output=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    data = json.loads(out.stdout.decode("utf-8"))  # strict: fails on invalid UTF-8
    (issue,) = data["files_skipped"]
    assert issue["path"] == "caf\ufffd.md" and "UTF-8" in issue["reason"]
    assert data["files_ingested"] == 1


def test_parse_time_limit_stops_a_slow_parser() -> None:
    import time

    with pytest.raises(ParseTimeout), time_limit(0.2):
        time.sleep(2)


def test_slow_file_is_skipped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import assistant.ingest.loading as loading

    def slow(text: str, title: str):  # type: ignore[no-untyped-def]
        time.sleep(3)
        return title, [], {}

    monkeypatch.setitem(loading._PARSERS, ".txt", slow)
    (tmp_path / "a.txt").write_text("hello nodes")
    with pytest.raises(SkippedFile, match=r"longer than the 0\.3-second limit"):
        parse_file(FoundFile(tmp_path, "a.txt"), b"hello nodes", timeout=0.3)


def test_unclosed_shortcode_before_a_run_of_spaces_is_linear() -> None:
    # The shortcode expression backtracked quadratically over the spaces: 20,000 took
    # 14 s, the 200,000 here would take hours (found while testing the parse worker).
    text = "# T\n\n{{< note" + " " * 200_000 + "x\n"
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(parse_markdown(text, "t")), daemon=True)
    worker.start()
    worker.join(30)  # a liveness bound, not a speed claim
    assert done, "the shortcode expression backtracks over a run of spaces"
    _title, sections, _meta = done[0]  # type: ignore[misc]
    assert sections[0].text.startswith("{{< note")


def test_credentials_are_redacted_before_storing(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "credentials.txt").write_text(
        "[default]\n"
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    (folder / "kubeconfig.txt").write_text(
        "users:\n- name: admin\n  user:\n"
        "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB\n"
        "    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl\n"
    )
    (folder / "key.md").write_text(
        "# Key\n\nThe node key:\n\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n"
        "abcdefghijkl\n-----END RSA PRIVATE KEY-----\n\nRotate it yearly.\n"
    )
    report, store = ingest_dir(tmp_path, folder)
    texts = "\n".join(c.text for c in store.iter_chunks("kubeplan"))
    for secret in ("wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "LS0tLS1CRUdJTi", "eyJhbGci",
                   "MIIEowIBAAKCAQEAx"):
        assert secret not in texts
    assert "[REDACTED" in texts and "Rotate it yearly." in texts
    assert report.secrets_redacted >= 5
    assert any("redacted" in w.reason for w in report.warnings)


def test_the_bundled_corpus_has_nothing_redacted_or_flagged() -> None:
    """No false positives on real planning text."""
    from assistant.ingest.prepare import flag_chunk
    from assistant.ingest.redaction import redact_document

    for path in sorted((REPO / "corpus").rglob("*.md")):
        if path.name == "README.md":
            continue
        doc = load_file(FoundFile(REPO / "corpus", path.relative_to(REPO / "corpus").as_posix()),
                        max_file_bytes=10**7)
        _, n = redact_document(doc)
        assert n == 0, path
        chunks = chunk_document(doc, collection="c", count_tokens=FakeEmbedder().count_tokens,
                                max_tokens=200)
        assert not any(flag_chunk(c).flags for c in chunks), path


def test_deeply_nested_html_is_skipped_quickly() -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(SkippedFile, match="nests 1000 elements deep"):
        parse_file(FoundFile(Path("/r"), "deep.html"), b"<div>" * 1000 + b"x")
    assert time.perf_counter() - started < 2  # it took 5 s before the depth check
    page = b"<html><body><ul>" + b"<li>item" * 500 + b"</ul><p>a<p>b</body></html>"
    assert parse_file(FoundFile(Path("/r"), "list.html"), page).sections


def test_a_pdf_that_loops_is_skipped_with_a_reason() -> None:
    from tests.pdfmaker import make_pdf

    data = make_pdf(["etcd quorum"]).replace(b"/Kids [4 0 R]", b"/Kids [2 0 R]")
    with pytest.raises(SkippedFile, match="unreadable PDF"):
        parse_file(FoundFile(Path("/r"), "loop.pdf"), data)
