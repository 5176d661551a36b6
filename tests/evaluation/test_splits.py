"""Loading eval files by split and suite (fixture files under tests/fixtures/evals)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.errors import InputError
from assistant.evaluation.splits import eval_files, load_cases_file, load_split

EVALS = Path(__file__).resolve().parent.parent / "fixtures" / "evals"


def test_dev_is_the_main_file_and_the_suites() -> None:
    cases = load_split(EVALS, "dev")
    assert [(c.id, c.split, c.suite) for c in cases] == [
        ("etcd", "dev", "main"), ("tenants", "dev", "main"),
        ("etcd-terse", "dev", "paraphrases"),
    ]
    assert cases[2].variant_of == "etcd"


def test_heldout_is_everything_under_heldout_and_all_is_both() -> None:
    held = load_split(EVALS, "heldout")
    assert [(c.id, c.split, c.suite) for c in held] == [
        ("ho-spot", "heldout", "main"), ("ho-negation-azure", "heldout", "negation"),
    ]
    assert held[1].expect_profile == {"hosting": ["azure"]}
    assert len(load_split(EVALS, "all")) == 5
    assert [s for _, s in eval_files(EVALS, "all")] == ["dev", "dev", "heldout", "heldout"]


def test_unknown_split_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown split 'test'"):
        load_split(EVALS, "test")


def _tree(tmp_path: Path, files: dict[str, object]) -> Path:
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


CASE = {"id": "a", "question": "q?", "must": [["x.y"]]}


def test_a_file_whose_split_disagrees_with_its_folder_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cases.yaml": {"cases": [CASE]},
                            "heldout/x.yaml": {"split": "dev", "cases": [{**CASE, "id": "b"}]}})
    with pytest.raises(InputError, match="says `split: dev` but lives in the heldout"):
        load_split(root, "all")


def test_ids_are_unique_across_files(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cases.yaml": {"cases": [CASE]},
                            "suites/p.yaml": {"suite": "negation", "split": "dev",
                                              "cases": [CASE]}})
    with pytest.raises(InputError, match="case id 'a' is used twice"):
        load_split(root, "dev")


def test_unknown_top_level_key_and_empty_split(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cases.yaml": {"cases": [CASE], "splitt": "dev"}})
    with pytest.raises(InputError, match="unknown top-level keys"):
        load_split(root, "dev")
    with pytest.raises(InputError, match="no eval cases for split 'heldout'"):
        load_split(root, "heldout")


def test_a_single_file_keeps_its_own_split(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"one.yaml": {"suite": "declines", "split": "heldout",
                                         "cases": [{"id": "d", "question": "our bill?",
                                                    "expect_status": "insufficient_evidence"}]}})
    (case,) = load_cases_file(root / "one.yaml")
    assert (case.split, case.suite) == ("heldout", "declines")
