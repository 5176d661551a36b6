"""Measure how many consecutive words curated documents share with ../shared/corpora.

The curated corpus must be written in the project's own words: no run of more than
``MAX_RUN`` words may appear verbatim in the upstream documentation.

Run by hand while writing: ``.venv/bin/python tests/copycheck.py corpus/secrets/vault.md``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

MAX_RUN = 12
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> Iterator[tuple[int, int]]:
    """(position, hash) of every n-gram."""
    for i in range(len(tokens) - n + 1):
        yield i, hash(" ".join(tokens[i : i + n]))


def shared_files(root: Path = SHARED) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in {".md", ".adoc", ".html", ".txt"} and path.is_file():
            yield path


@cache
def shared_index(n: int = MAX_RUN + 1, root: Path = SHARED) -> frozenset[int]:
    hashes: set[int] = set()
    for path in shared_files(root):
        tokens = words(path.read_text(encoding="utf-8", errors="replace"))
        hashes.update(h for _, h in ngrams(tokens, n))
    return frozenset(hashes)


def copied_runs(text: str, n: int = MAX_RUN + 1, root: Path = SHARED) -> list[str]:
    """Every maximal stretch of ``text`` made of n-grams found upstream, as text."""
    index = shared_index(n, root)
    tokens = words(text)
    hits = [i for i, h in ngrams(tokens, n) if h in index]
    runs: list[str] = []
    start = 0
    for j, i in enumerate(hits):
        if j == 0 or i != hits[j - 1] + 1:
            start = i
        if j == len(hits) - 1 or hits[j + 1] != i + 1:
            runs.append(" ".join(tokens[start : i + n]))
    return runs


def checked_text(markdown: str) -> str:
    """The parts of a curated document written by us: everything but source URLs."""
    return "\n".join(line for line in markdown.splitlines() if "https://" not in line)


def main(argv: list[str]) -> int:
    targets = [Path(a) for a in argv] or [Path("corpus")]
    files = [f for t in targets for f in (sorted(t.rglob("*.md")) if t.is_dir() else [t])]
    bad = 0
    for file in files:
        runs = copied_runs(checked_text(file.read_text(encoding="utf-8")))
        for run in runs:
            bad += 1
            print(f"{file}: {len(run.split())} words shared upstream: {run!r}")
    print(f"{len(files)} files checked, {bad} copied runs over {MAX_RUN} words")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
