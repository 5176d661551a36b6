"""Loaders per format, markup reduction, the directory walk and every bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.errors import CorpusError, InputError
from assistant.ingest.loading import (
    FoundFile,
    SkippedFile,
    glob_to_regex,
    load_file,
    matches,
    parse_asciidoc,
    parse_html,
    parse_markdown,
    split_front_matter,
    walk,
)
from tests.pdfmaker import make_pdf

DOCS = Path(__file__).parent.parent / "fixtures" / "ingest" / "docs"
SUFFIXES = (".md", ".adoc", ".html", ".txt", ".pdf")


def load(rel: str, root: Path = DOCS, corpus_dir: Path | None = None):  # type: ignore[no-untyped-def]
    return load_file(FoundFile(root, rel), max_file_bytes=1_000_000, corpus_dir=corpus_dir)


def text_of(doc) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(s.text for s in doc.sections)


def test_markdown_front_matter_shortcodes_and_admonitions() -> None:
    doc = load("guide.md")
    assert doc.title == "Guide to Pods"
    assert doc.url == "https://example.org/guide"
    assert (doc.topic, doc.doc_id) == ("workloads", "guide-pods")
    body = text_of(doc)
    assert "A Pod is the smallest deployable unit." in body
    assert "See the docs for more." in body
    assert "{{" not in body and "}}" not in body and "](" not in body
    assert "Note:" in body and "Pods share a network namespace" in body
    assert "Warning: Restart policy" in body
    assert "Containers restart according" in body
    assert "Pods are ephemeral" in body and "[!NOTE]" not in body and "> " not in body
    assert "Diagram of a pod with two containers" in body and ":::" not in body
    assert "kubectl get pods" in body and "```" not in body
    paths = [s.heading_path for s in doc.sections]
    # The H1 repeats the title, so it is not part of any heading path.
    assert paths == [[], ["Before you begin"], ["Lifecycle"]]
    assert len(doc.file_hash) == 64


def test_markdown_code_comment_is_not_a_heading() -> None:
    _, sections, _ = parse_markdown("# T\n\n## A\n\n```\n# comment\n```\n\ntext\n", "f")
    assert [s.heading_path for s in sections] == [["A"]]
    assert "# comment" in sections[0].text


def test_hugo_toml_front_matter() -> None:
    doc = load("hugo.md")
    assert doc.title == "Hugo page about Services"
    assert doc.topic == "networking"
    assert [s.heading_path for s in doc.sections] == [[], ["Types"]]


def test_title_falls_back_to_first_heading_then_file_name() -> None:
    assert parse_markdown("## First heading\n\ntext", "name")[0] == "First heading"
    assert parse_markdown("just text", "name")[0] == "name"


def test_heading_ids_and_nesting() -> None:
    text = "# Top\n\n## A {#a}\n\na text\n\n### B\n\nb text\n\n## C\n\nc text\n"
    _, sections, _ = parse_markdown(text, "f")
    assert [s.heading_path for s in sections] == [["A"], ["A", "B"], ["C"]]


def test_asciidoc() -> None:
    doc = load("sub/guide.adoc")
    assert doc.title == "Load Balancing"
    body = text_of(doc)
    assert "healthy targets" in body and "xref:" not in body
    assert "the EKS guide" in body and "https://" not in body
    assert ":info_titleabbrev:" not in body and "[source,bash]" not in body and "----" not in body
    assert "NODE_ROOT" not in body
    assert [s.heading_path for s in doc.sections] == [[], ["Choosing a type"]]
    assert "== not a heading inside a listing" in doc.sections[1].text


def test_asciidoc_title_without_sections() -> None:
    title, sections, _ = parse_asciidoc("= Only\n\nsome text here\n", "f")
    assert title == "Only" and sections[0].text == "some text here"


def test_html() -> None:
    doc = load("sub/page.html")
    assert doc.title == "Ingress overview"
    body = text_of(doc)
    assert "tracking" not in body and "color: red" not in body and "Navigation text" not in body
    assert "An ingress controller & its proxy implement the rules." in body
    assert [s.heading_path for s in doc.sections] == [[], ["Controllers"]]
    assert "NGINX" in doc.sections[1].text and "Envoy" in doc.sections[1].text


def test_html_without_title_uses_h1() -> None:
    title, sections, _ = parse_html("<h1>Top</h1><p>x y z</p><h2>S</h2><p>more</p>", "f")
    assert title == "Top"
    assert [s.heading_path for s in sections] == [[], ["S"]]


def test_plain_text() -> None:
    doc = load("sub/notes.txt")
    assert doc.title == "notes"
    assert "Separate system and user node pools." in text_of(doc)


def test_pdf(tmp_path: Path) -> None:
    pdf = make_pdf(["etcd needs a quorum.", "Page two text."], "Tiny")
    (tmp_path / "tiny.pdf").write_bytes(pdf)
    doc = load("tiny.pdf", tmp_path)
    assert doc.title == "Tiny"
    assert [s.heading_path for s in doc.sections] == [["Page 1"], ["Page 2"]]
    assert "quorum" in doc.sections[0].text


def test_broken_pdf_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(SkippedFile):
        load("bad.pdf", tmp_path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"abc\x00def", "binary"),
        (b'{{< include "task-prereqs.md" >}}\n<!-- steps -->\n', "no text"),
    ],
)
def test_files_to_skip(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "f.md").write_bytes(content)
    with pytest.raises(SkippedFile, match=reason):
        load("f.md", tmp_path)


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("word " * 100)
    with pytest.raises(SkippedFile, match="limit"):
        load_file(FoundFile(tmp_path, "big.txt"), max_file_bytes=100)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "secret.md"
    path.write_text("text")
    path.chmod(0)
    try:
        with pytest.raises(SkippedFile, match="unreadable"):
            load("secret.md", tmp_path)
    finally:
        path.chmod(0o644)


def test_dangling_link_is_skipped_as_unreadable(tmp_path: Path) -> None:
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    result = walk([tmp_path], allowed_suffixes=SUFFIXES)
    assert [f.rel for f in result.files] == ["dangling.md"]
    with pytest.raises(SkippedFile, match="unreadable"):
        load("dangling.md", tmp_path)


def test_missing_file_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SkippedFile, match="unreadable"):
        load("gone.md", tmp_path)


def test_undecodable_text_is_replaced_and_warned(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    doc = load("latin.txt", tmp_path)
    assert "caf\ufffd au lait" in text_of(doc)
    assert doc.warnings and "UTF-8" in doc.warnings[0]


def test_curated_document_with_invalid_front_matter_fails(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "doc.md").write_text("---\ntitle: Too\n---\n\n## A\n\ntext\n")
    with pytest.raises(CorpusError, match="invalid front matter"):
        load("t/doc.md", tmp_path, corpus_dir=tmp_path)
    # Outside the curated corpus the same front matter is just metadata.
    assert load("t/doc.md", tmp_path).title == "Too"


def test_curated_document_maps_decisions(tmp_path: Path) -> None:
    text = """---
id: etcd-doc
title: Highly available etcd
topic: availability
summary: How many etcd members to run and where to put them.
applies_to: any
reviewed: 2026-11-28
sources:
  - title: etcd FAQ
    url: https://etcd.io/docs/v3.5/faq/
decisions:
  - id: availability.etcd-odd-members
    title: Run three or five etcd members
    recommendation: Run three etcd members across three zones in production.
    when: [production]
    tradeoffs: [more members slow writes]
    sources: [https://etcd.io/docs/v3.5/faq/]
---

Overview text.

## Run three or five etcd members

Odd counts tolerate failures.
"""
    (tmp_path / "doc.md").write_text(text)
    doc = load("doc.md", tmp_path, corpus_dir=tmp_path)
    assert doc.doc_id == "etcd-doc" and doc.topic == "availability"
    assert doc.url == "https://etcd.io/docs/v3.5/faq/"
    assert doc.decision_titles == {
        "Run three or five etcd members": "availability.etcd-odd-members"
    }


# --------------------------------------------------------------------------- walk


def test_walk_default_excludes_and_suffixes() -> None:
    result = walk([DOCS], allowed_suffixes=SUFFIXES)
    rels = [f.rel for f in result.files]
    assert rels == ["guide.md", "hugo.md", "sub/guide.adoc", "sub/notes.txt", "sub/page.html"]
    assert result.roots == [DOCS.resolve()]


def test_walk_include_and_exclude() -> None:
    only_sub = walk([DOCS], include=["sub/**"], allowed_suffixes=SUFFIXES)
    assert [f.rel for f in only_sub.files] == ["sub/guide.adoc", "sub/notes.txt", "sub/page.html"]
    no_md = walk([DOCS], exclude=["*.md"], allowed_suffixes=SUFFIXES)
    assert all(not f.rel.endswith(".md") for f in no_md.files)
    txt_only = walk([DOCS], allowed_suffixes=(".txt",))
    assert [f.rel for f in txt_only.files] == ["sub/notes.txt"]


def test_walk_bundled_corpus_skips_readme(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# readme")
    (tmp_path / "a.md").write_text("# a")
    plain = walk([tmp_path], allowed_suffixes=SUFFIXES)
    assert [f.rel for f in plain.files] == ["README.md", "a.md"]
    corpus = walk([tmp_path], allowed_suffixes=SUFFIXES, corpus_dir=tmp_path)
    assert [f.rel for f in corpus.files] == ["a.md"]


def test_walk_single_file() -> None:
    result = walk([DOCS / "hugo.md"], allowed_suffixes=SUFFIXES)
    assert [(f.root, f.rel) for f in result.files] == [(DOCS.resolve(), "hugo.md")]
    assert result.roots == []


def test_walk_does_not_follow_links_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("# secret")
    (root / "inside.md").write_text("# inside")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "linked.md").symlink_to(outside / "secret.md")
    (root / "alias.md").symlink_to(root / "inside.md")
    (root / "loop").symlink_to(root, target_is_directory=True)
    result = walk([root], allowed_suffixes=SUFFIXES)
    assert [f.rel for f in result.files] == ["alias.md", "inside.md"]
    assert sorted(i.path for i in result.skipped) == ["linked-dir", "linked.md"]
    assert all("leaves the root" in i.reason for i in result.skipped)


def test_walk_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        walk([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/README.md", "README.md", True),
        ("**/README.md", "a/b/README.md", True),
        ("*.md", "a/b.md", True),  # no slash: matches the name
        ("a/*.md", "a/b/c.md", False),
        ("a/**", "a/b/c.md", True),
        ("a/?.md", "a/b.md", True),
    ],
)
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert matches(path, [pattern]) is expected
    assert glob_to_regex(pattern).pattern


def test_split_front_matter_still_reports_bad_yaml() -> None:
    with pytest.raises(ValueError, match="YAML"):
        split_front_matter("---\n: [\n---\nbody")


@pytest.fixture(params=["libyaml", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Front matter parsed with libyaml (when PyYAML has it) and with the pure loader."""
    import assistant.ingest.loading as loading

    if request.param == "python":
        monkeypatch.setattr(loading, "_C_LOADER", None)
    elif loading._C_LOADER is None:
        pytest.skip("PyYAML was built without libyaml")
    return str(request.param)


@pytest.mark.parametrize(
    "head",
    [
        "a: &x [1, 2]\nb: *x\n",
        "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
        "base: &base {k: v}\nchild:\n  <<: *base\n",
        "- " * 51 + "x\n",
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 52)) + "  " * 52 + "v\n",
        "a: " + "[" * 51 + "]" * 51 + "\n",
    ],
    ids=["alias", "alias-bomb", "merge-key", "deep-sequence", "deep-mapping", "deep-flow"],
)
def test_front_matter_refuses_aliases_and_deep_nesting(yaml_loader: str, head: str) -> None:
    with pytest.raises(ValueError, match=r"alias|nests"):
        split_front_matter(f"---\n{head}---\nbody")


def test_front_matter_keeps_anchors_without_aliases_and_50_levels(yaml_loader: str) -> None:
    meta, body = split_front_matter("---\ntitle: &t T\nn: " + "[" * 49 + "]" * 49 + "\n---\nb")
    assert meta["title"] == "T" and body == "b"


def test_libyaml_reads_every_corpus_front_matter_like_the_python_loader() -> None:
    import yaml

    import assistant.ingest.loading as loading

    if loading._C_LOADER is None:
        pytest.skip("PyYAML was built without libyaml")
    files = sorted((Path(__file__).resolve().parent.parent.parent / "corpus").rglob("*.md"))
    texts = [f.read_text(encoding="utf-8") for f in files if f.name != "README.md"]
    heads = [t.split("\n---\n", 1)[0].removeprefix("---\n") for t in texts]
    assert len(heads) > 20
    for head in heads:
        fast = loading.load_yaml_bounded(head)
        assert fast.get("decisions") is not None
        assert fast == yaml.load(head, Loader=loading._BoundedLoader)
