from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import CorpusError
from assistant.ingest.catalogue import build_catalogue, load_catalogue, parse_document

DOC = """---
id: {doc_id}
title: A test document
topic: capacity
summary: A document used by the catalogue tests only.
applies_to: any
reviewed: 2026-11-28
sources:
  - title: Node autoscaling
    url: https://kubernetes.io/docs/concepts/cluster-administration/node-autoscaling/
decisions:
  - id: {decision_id}
    title: Use spot capacity for batch
    recommendation: Run interruptible batch work on spot capacity with a fallback.
    when: [batch jobs, cost-sensitive]
    tradeoffs: [interruptions]
    alternatives: {alternatives}
    sources: [https://kubernetes.io/docs/concepts/cluster-administration/node-autoscaling/]
---
## Use spot capacity for batch
Body.
"""


def doc(doc_id: str = "d1", decision_id: str = "capacity.spot", alternatives: str = "[]") -> str:
    return DOC.format(doc_id=doc_id, decision_id=decision_id, alternatives=alternatives)


def test_parse_fills_topic_and_document() -> None:
    parsed = parse_document("capacity/d1.md", doc())
    decision = parsed.meta.decisions[0]
    assert (decision.topic, decision.doc_id) == ("capacity", "d1")
    assert parsed.body.startswith("## Use spot capacity for batch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no YAML front matter"),
        ("---\nid: [unclosed\n---\nbody", "not valid YAML"),
        (doc(decision_id="Capacity Spot"), "topic.slug"),
        (doc(decision_id="security.spot"), "does not start with the document's topic"),
        (doc().replace("topic: capacity", "topic: cooking"), "topic"),
    ],
)
def test_invalid_documents_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message) as info:
        parse_document("capacity/bad.md", text)
    assert "capacity/bad.md" in info.value.problem


def test_duplicate_ids_and_unknown_alternatives_are_rejected() -> None:
    a = parse_document("a.md", doc("a", "capacity.spot"))
    b = parse_document("b.md", doc("b", "capacity.spot"))
    with pytest.raises(CorpusError, match=r"appears in a\.md and b\.md"):
        build_catalogue([a, b])
    c = parse_document("c.md", doc("c", "capacity.other", "[capacity.missing]"))
    with pytest.raises(CorpusError, match="unknown alternatives"):
        build_catalogue([c])


def test_load_catalogue_reads_a_folder(tmp_path: Path) -> None:
    (tmp_path / "capacity").mkdir()
    (tmp_path / "capacity" / "d1.md").write_text(doc())
    (tmp_path / "README.md").write_text("not a document")
    catalogue = load_catalogue(tmp_path)
    assert [d.id for d in catalogue.by_topic("capacity")] == ["capacity.spot"]
    assert catalogue.document_of("capacity.spot") is not None
    with pytest.raises(CorpusError, match="does not exist"):
        load_catalogue(tmp_path / "missing")


def test_cached_catalogue_is_the_parsed_one_and_follows_the_files(tmp_path: Path) -> None:
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    (corpus / "capacity").mkdir(parents=True)
    (corpus / "capacity" / "d1.md").write_text(doc())
    first = load_catalogue(corpus, cache)
    assert len(list(cache.glob("catalogue-*.json"))) == 1
    assert load_catalogue(corpus, cache) == first == load_catalogue(corpus)
    # An edited document is parsed again, not served from the cache.
    (corpus / "capacity" / "d1.md").write_text(doc(decision_id="capacity.spot-two"))
    assert list(load_catalogue(corpus, cache).decisions) == ["capacity.spot-two"]
    # A corpus that does not parse raises every time (it was never cached).
    (corpus / "capacity" / "d2.md").write_text(doc("d2", alternatives="[capacity.none]"))
    for _ in range(2):
        with pytest.raises(CorpusError, match="unknown alternatives"):
            load_catalogue(corpus, cache)
    # A damaged cache file is parsed around.
    (corpus / "capacity" / "d2.md").unlink()
    for file in cache.glob("catalogue-*.json"):
        file.write_text("{not json")
    assert list(load_catalogue(corpus, cache).decisions) == ["capacity.spot-two"]
