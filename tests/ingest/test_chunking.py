"""Chunker properties: no chunk over the limit, all text covered in order, stable ids."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.index.embedding import FakeEmbedder, SentenceTransformerEmbedder
from assistant.ingest.chunking import chunk_document, embedding_text, split_text
from assistant.schemas import LoadedDocument, Section

FAKE = FakeEmbedder()
count = FAKE.count_tokens


def words(text: str) -> list[str]:
    return text.split()


def doc_of(sections: list[Section], **extra: object) -> LoadedDocument:
    return LoadedDocument(
        path="a/doc.md", root="/r", title="Doc title", sections=sections, file_hash="f" * 64,
        **extra,  # type: ignore[arg-type]
    )


# Words are unique (w0, w1, ...) so where each chunk sits in the text is unambiguous.
@st.composite
def texts(draw: st.DrawFn) -> str:
    n_paragraphs = draw(st.integers(1, 6))
    counter = 0
    paragraphs = []
    for _ in range(n_paragraphs):
        sentences = []
        for _ in range(draw(st.integers(1, 8))):
            n = draw(st.integers(1, 40))
            long = draw(st.booleans())
            sentence = []
            for _ in range(n):
                stem = f"w{counter}"
                counter += 1
                sentence.append(stem + ("x" * 30 if long and counter % 7 == 0 else ""))
            sentences.append(" ".join(sentence) + draw(st.sampled_from([".", "!", "", ";"])))
        paragraphs.append(draw(st.sampled_from([" ", "\n"])).join(sentences))
    return "\n\n".join(paragraphs)


def positions(chunk_words: list[str], all_words: list[str]) -> tuple[int, int]:
    start = all_words.index(chunk_words[0])
    assert all_words[start : start + len(chunk_words)] == chunk_words, "not a contiguous run"
    return start, start + len(chunk_words)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts(), budget=st.integers(20, 120), overlap=st.integers(0, 16))
def test_split_text_bounds_and_covers_in_order(text: str, budget: int, overlap: int) -> None:
    passages = split_text(text, count, budget, overlap)
    assert all(count(p) <= budget for p in passages)
    all_words = [w.rstrip(".!;") for w in words(text)]
    spans = [positions([w.rstrip(".!;") for w in words(p)], all_words) for p in passages]
    assert spans[0][0] == 0 and spans[-1][1] == len(all_words)
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert s1 < s2 <= e1, "chunks skip text or go backwards"
        assert e2 > e1
        if overlap == 0:
            assert s2 == e1


@settings(max_examples=40, deadline=None)
@given(text=texts(), budget=st.integers(20, 120))
def test_without_overlap_text_is_reproduced_exactly(text: str, budget: int) -> None:
    passages = split_text(text, count, budget, 0)
    assert " ".join(words(" ".join(passages))) == " ".join(words(text))


@settings(max_examples=30, deadline=None)
@given(
    body=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=600)
)
def test_any_text_fits_and_loses_no_characters(body: str) -> None:
    passages = split_text(body, count, 24, 0, 0)
    assert all(count(p) <= 24 for p in passages)
    squash = re.compile(r"\s+")
    assert squash.sub("", "".join(passages)) == squash.sub("", body)


def test_monster_word_is_split_by_characters() -> None:
    word = "a" * 500
    passages = split_text(word, count, 20)
    assert all(count(p) <= 20 for p in passages)
    assert "".join(passages) == word


def test_small_trailing_fragment_is_merged() -> None:
    text = " ".join(f"w{i}" for i in range(100)) + ".\n\nTiny end."
    passages = split_text(text, count, 200, 0)
    assert len(passages) == 1


@settings(max_examples=30, deadline=None)
@given(text=texts(), limit=st.integers(40, 200))
def test_chunks_within_limit_and_ids_stable(text: str, limit: int) -> None:
    doc = doc_of([Section(heading_path=["Part", "Sub"], text=text), Section(text="intro words")])
    first = chunk_document(doc, collection="c", count_tokens=count, max_tokens=limit, overlap=8)
    again = chunk_document(doc, collection="c", count_tokens=count, max_tokens=limit, overlap=8)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    for c in first:
        assert count(embedding_text(c)) <= limit
        assert c.tokens == count(embedding_text(c))


def test_ids_depend_on_collection_path_and_content() -> None:
    doc = doc_of([Section(heading_path=["A"], text="alpha beta"), Section(text="gamma")])
    base = chunk_document(doc, collection="c", count_tokens=count, max_tokens=100)
    other = chunk_document(doc, collection="d", count_tokens=count, max_tokens=100)
    moved = chunk_document(
        doc.model_copy(update={"path": "b.md"}), collection="c", count_tokens=count, max_tokens=100
    )
    edited = doc_of([Section(heading_path=["A"], text="alpha beta"), Section(text="delta")])
    changed = chunk_document(edited, collection="c", count_tokens=count, max_tokens=100)
    assert {c.id for c in base}.isdisjoint(c.id for c in other)
    assert {c.id for c in base}.isdisjoint(c.id for c in moved)
    # Only the edited section's chunk changes id.
    assert base[0].id == changed[0].id and base[1].id != changed[1].id
    assert base[0].id.split("-")[1] == base[0].content_hash[:12]


def test_duplicate_heading_paths_get_distinct_ids() -> None:
    doc = doc_of([Section(heading_path=["Example"], text="one"),
                  Section(heading_path=["Example"], text="one")])
    chunks = chunk_document(doc, collection="c", count_tokens=count, max_tokens=100, min_tokens=0)
    assert len({c.id for c in chunks}) == 2


def test_metadata_and_decisions() -> None:
    doc = doc_of(
        [
            Section(text="overview"),
            Section(heading_path=["Run three etcd members"], text="odd counts"),
            Section(heading_path=["Pitfalls"], text="even counts"),
        ],
        url="https://example.org",
        topic="availability",
        doc_id="etcd",
        decision_ids=["availability.a", "availability.b"],
        decision_titles={"Run three etcd members": "availability.a"},
    )
    chunks = chunk_document(doc, collection="c", count_tokens=count, max_tokens=100, min_tokens=0)
    assert [c.decision_ids for c in chunks] == [
        ["availability.a", "availability.b"],
        ["availability.a"],
        ["availability.a", "availability.b"],
    ]
    c = chunks[1]
    assert (c.path, c.root, c.title, c.url, c.topic, c.doc_id) == (
        "a/doc.md", "/r", "Doc title", "https://example.org", "availability", "etcd",
    )
    assert embedding_text(c) == "Doc title > Run three etcd members: odd counts"


def test_metadata_change_changes_ids() -> None:
    doc = doc_of([Section(text="same text")])
    a = chunk_document(doc, collection="c", count_tokens=count, max_tokens=100)
    b = chunk_document(
        doc.model_copy(update={"url": "https://x.org"}), collection="c", count_tokens=count,
        max_tokens=100,
    )
    assert a[0].id != b[0].id


def test_long_heading_path_is_shortened() -> None:
    heads = [" ".join(f"h{i}x{j}" for j in range(30)) for i in range(5)]
    doc = doc_of([Section(heading_path=heads, text="body " * 50)])
    chunks = chunk_document(doc, collection="c", count_tokens=count, max_tokens=60)
    assert all(count(embedding_text(c)) <= 60 for c in chunks)
    assert " ".join(words(" ".join(c.text for c in chunks))) == " ".join(["body"] * 50)


def test_tiny_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_text("some text", count, 4)


@pytest.mark.slow
def test_real_tokenizer_never_exceeds_the_model_limit() -> None:
    model = SentenceTransformerEmbedder()
    text = (
        "Kubernetes schedules Pods onto nodes; kube-scheduler scores them. "
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx-deployment\n"
        "ÜberlangesWortMitSonderzeichen_und_Unterstrichen " * 3
    ) * 40
    doc = doc_of([Section(heading_path=["Scheduling", "Scoring"], text=text)])
    chunks = chunk_document(
        doc,
        collection="c",
        count_tokens=model.count_tokens,
        max_tokens=model.max_tokens,
        overlap=32,
    )
    assert len(chunks) > 3
    for c in chunks:
        assert model.count_tokens(embedding_text(c)) <= model.max_tokens == 254


def test_tiny_section_folds_into_its_subsection_only() -> None:
    doc = doc_of(
        [
            Section(text="A short intro."),
            Section(heading_path=["Parent"], text="one line"),
            Section(heading_path=["Parent", "Child"], text="child text " * 20),
            Section(heading_path=["Other"], text="tiny"),
            Section(heading_path=["Third"], text="third text " * 20),
        ]
    )
    chunks = chunk_document(doc, collection="c", count_tokens=count, max_tokens=200)
    assert [c.heading_path for c in chunks] == [["Parent", "Child"], ["Other"], ["Third"]]
    assert chunks[0].text.startswith("A short intro.\n\none line\n\nchild text")
    assert chunks[1].text == "tiny"  # "Third" is not its subsection


def test_a_section_cites_its_own_decisions_source() -> None:
    sources = {
        "x.one": ["https://one.example/a", "https://shared.example/"],
        "x.two": ["https://two.example/b", "https://shared.example/"],
    }
    doc = doc_of(
        [
            Section(heading_path=["One"], text="about one " * 10),
            Section(heading_path=["Intro"], text="about both " * 10),
        ],
        url="https://doc.example/", decision_ids=["x.one", "x.two"],
        decision_titles={"One": "x.one"}, decision_sources=sources,
    )
    own, both = chunk_document(doc, collection="c", count_tokens=count, max_tokens=100)
    assert own.url == "https://one.example/a"
    assert both.url == "https://shared.example/"  # the page both decisions list
    no_decisions = doc.model_copy(update={"decision_ids": [], "decision_titles": {}})
    assert chunk_document(no_decisions, collection="c", count_tokens=count, max_tokens=100)[
        0
    ].url == "https://doc.example/"
    moved = chunk_document(
        doc.model_copy(update={"decision_sources": {"x.one": ["https://new.example/"]}}),
        collection="c", count_tokens=count, max_tokens=100,
    )
    assert moved[0].url == "https://new.example/" and moved[0].id != own.id
