from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.evaluation import (
    RetrievalSet,
    load_cases,
    load_retrieval_set,
    parse_cases,
    unknown_references,
)
from assistant.ingest.catalogue import load_catalogue
from assistant.schemas import TOPICS
from tests.conftest import CORPUS, REPO, SHARED_CORPORA

CASES_FILE = REPO / "evals" / "cases.yaml"
RETRIEVAL_FILE = REPO / "evals" / "retrieval" / "k8s-eks-aks.yaml"


def test_cases_parse_from_a_list_or_a_mapping() -> None:
    item = {"id": "a", "question": "q", "must": [["x.y"]], "tags": ["nodes"]}
    assert parse_cases([item])[0].topics == ["nodes"]
    (case,) = parse_cases({"cases": [item]})
    assert case.expect_status == "answered" and case.history == []


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"id": "a", "question": "q", "surprise": 1}, "surprise"),
        ({"id": "a", "question": "q", "must": [[]]}, "empty"),
        ({"id": "a", "question": "q", "must": [["x.y"]], "must_not": ["x.y"]}, "both"),
        ({"id": "a", "question": "q", "expect_status": "maybe"}, "expect_status"),
        ({"id": "a", "question": "q", "expect_status": "out_of_scope", "must": [["x.y"]]},
         "answered"),
        ({"id": "Bad Id", "question": "q"}, "id"),
        ({"id": "a", "question": "q", "profile": {"hosting": ["mars"]}}, "hosting"),
    ],
)
def test_invalid_cases_name_the_case_and_the_field(item: dict[str, object], problem: str) -> None:
    with pytest.raises(InputError) as info:
        parse_cases([item])
    assert problem in info.value.problem and item["id"] in info.value.problem


def test_duplicate_ids_and_empty_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="used twice"):
        parse_cases([{"id": "a", "question": "q"}, {"id": "a", "question": "r"}])
    empty = tmp_path / "empty.yaml"
    empty.write_text("cases: []\n", encoding="utf-8")
    with pytest.raises(InputError, match="no cases"):
        load_cases(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_cases(broken)
    with pytest.raises(InputError, match="does not exist"):
        load_cases(tmp_path / "nope.yaml")


def test_retrieval_paths_must_start_with_a_declared_root() -> None:
    with pytest.raises(ValueError, match="roots"):
        RetrievalSet.model_validate({
            "name": "x", "roots": ["kubernetes-docs"],
            "cases": [{"id": "a", "question": "q", "expect": ["aks-docs/a.md"]}],
        })


def test_unknown_references_are_listed() -> None:
    (case,) = parse_cases([{"id": "a", "question": "q", "must": [["x.y", "x.z"]],
                            "must_not": ["x.w"], "expect_sources": ["doc", "ghost"]}])
    assert unknown_references([case], {"x.y", "x.w"}, {"doc"}) == [
        "a: unknown decision id x.z",
        "a: unknown corpus document ghost",
    ]


# --------------------------------------------------------------------------- the shipped files


def test_project_cases_cover_every_topic_and_style() -> None:
    cases = load_cases(CASES_FILE)
    assert len(cases) >= 100
    per_topic = Counter(t for c in cases for t in c.topics)
    thin = {t: per_topic[t] for t in TOPICS if per_topic[t] < 5}
    assert not thin, f"topics with fewer than 5 cases: {thin}"
    tags = Counter(t for c in cases for t in c.tags)
    for style in ("short", "long", "misspelled", "multi-part", "multi-turn", "profile",
                  "what-if", "out-of-scope", "injection"):
        assert tags[style] >= 3, style
    assert all(c.history for c in cases if "multi-turn" in c.tags)
    assert all(c.profile for c in cases if "profile" in c.tags)
    assert all(c.expect_status == "out_of_scope" for c in cases
               if {"out-of-scope", "injection"} & set(c.tags))
    # What-ifs come in pairs: the same question with another profile.
    questions = Counter(c.question for c in cases if "what-if" in c.tags)
    assert all(n >= 2 for n in questions.values())


def test_project_cases_name_only_existing_decisions_and_documents() -> None:
    catalogue = load_catalogue(CORPUS)
    problems = unknown_references(load_cases(CASES_FILE), set(catalogue.decisions),
                                  set(catalogue.documents))
    assert problems == []


def test_retrieval_set_is_large_and_points_at_real_documents() -> None:
    rset = load_retrieval_set(RETRIEVAL_FILE)
    assert len(rset.cases) >= 60
    assert set(rset.roots) == {"kubernetes-docs", "eks-best-practices", "aks-docs"}
    assert {p.split("/", 1)[0] for c in rset.cases for p in c.expect} == set(rset.roots)
    if not SHARED_CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    missing = [p for c in rset.cases for p in c.expect if not (SHARED_CORPORA / p).is_file()]
    assert missing == []


def test_every_eval_file_of_every_split_is_consistent() -> None:
    from assistant.evaluation.cases import SUITES
    from assistant.evaluation.regressions import load_allowed_regressions
    from assistant.evaluation.splits import load_split

    cases = load_split(REPO / "evals", "all")
    catalogue = load_catalogue(CORPUS)
    assert unknown_references(cases, set(catalogue.decisions), set(catalogue.documents)) == []
    ids = {c.id for c in cases}
    assert {c.suite for c in cases} <= set(SUITES)
    dangling = [c.id for c in cases if c.variant_of and c.variant_of not in ids]
    assert dangling == [], f"variant_of names no case: {dangling}"
    assert all(c.variant_of for c in cases if c.suite == "paraphrases")
    allowed = load_allowed_regressions(REPO / "evals" / "allowed-regressions.yaml")
    assert set(allowed) <= ids, f"allowed regressions of unknown cases: {set(allowed) - ids}"
