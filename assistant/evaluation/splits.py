"""Eval files by split: ``dev`` (tuning allowed) and ``heldout`` (never tuned on).

Layout (see ``evals/README.md``): ``dev`` = ``evals/cases.yaml`` + ``evals/suites/**/*.yaml``;
``heldout`` = ``evals/heldout/**/*.yaml``. A file is ``{suite?, split, cases}``; the split a
file declares must agree with where it lives, so a held-out case cannot slip into dev.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evaluation.cases import SPLITS, Case, Split, check_unique, parse_cases, read_yaml

SPLIT_CHOICES: tuple[str, ...] = (*SPLITS, "all")
_FILE_KEYS = frozenset({"suite", "split", "cases", "description"})


def eval_files(evals_dir: Path, split: str) -> list[tuple[Path, Split]]:
    """The YAML files of ``split`` (``dev``, ``heldout`` or ``all``) under ``evals_dir``,
    each with the split its location puts it in; sorted, so runs are reproducible."""
    if split not in SPLIT_CHOICES:
        raise InputError(f"unknown split {split!r}.", f"use one of: {', '.join(SPLIT_CHOICES)}.")
    files: list[tuple[Path, Split]] = []
    if split in ("dev", "all"):
        main = evals_dir / "cases.yaml"
        if main.is_file():
            files.append((main, "dev"))
        files += [(p, "dev") for p in _yaml_under(evals_dir / "suites")]
    if split in ("heldout", "all"):
        files += [(p, "heldout") for p in _yaml_under(evals_dir / "heldout")]
    return files


def _yaml_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def parse_eval_file(data: Any, source: str, split: Split) -> list[Case]:
    """Cases of one file, labelled with its split and suite; ``InputError`` on problems."""
    suite = "main"
    if isinstance(data, dict):
        unknown = set(data) - _FILE_KEYS
        if unknown:
            raise InputError(
                f"{source}: unknown top-level keys {sorted(unknown)}.",
                "an eval file holds `suite` (optional), `split` and `cases`.",
            )
        declared = data.get("split", split)
        if declared != split:
            raise InputError(
                f"{source} says `split: {declared}` but lives in the {split} folders.",
                "move the file to the folder of its split (evals/suites or evals/heldout) "
                "or correct its `split`.",
            )
        suite = str(data.get("suite") or "main")
    cases = parse_cases(data, source)
    return [c.model_copy(update={"split": split, "suite": suite}) for c in cases]


def load_cases_file(path: Path, split: Split = "dev") -> list[Case]:
    """One eval file (``--cases FILE``): its own ``split`` key wins, default ``dev``."""
    data = read_yaml(path)
    if isinstance(data, dict) and data.get("split") in SPLITS:
        split = data["split"]
    return parse_eval_file(data, str(path), split)


def load_split(evals_dir: Path, split: str) -> list[Case]:
    """Every case of ``split`` (``all``: dev then held-out); ids unique across all files."""
    cases: list[Case] = []
    for path, file_split in eval_files(evals_dir, split):
        cases += parse_eval_file(read_yaml(path), str(path), file_split)
    if not cases:
        raise InputError(
            f"no eval cases for split {split!r} under {evals_dir}.",
            "run from the repository root, or pass --cases FILE.",
        )
    _unique(cases)
    return cases


def _unique(cases: Sequence[Case]) -> None:
    try:
        check_unique(c.id for c in cases)
    except ValueError as exc:
        fix = "give every case its own id across all files."
        raise InputError(f"eval files: {exc}", fix) from exc
