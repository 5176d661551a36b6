"""The package reads as the pipeline: a stage imports only the stages below it.

Checked statically (every ``import`` and ``from ... import`` in the package, including
the lazy ones inside functions), so a shortcut from a lower stage to a higher one fails
here before it becomes an import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

#: Lowest first. The top-level modules (config, errors, schemas) are the base every stage
#: may use; the interfaces (ui, cli) sit on top and may use everything.
STAGES = ["base", "ingest", "index", "retrieval", "understanding", "generation", "chain",
          "evaluation", "interfaces"]
INTERFACES = {"ui", "cli", "__main__", "__init__"}


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "interfaces"  # the package itself: its __init__ re-exports the public API
    head = parts[1]
    if head in INTERFACES:
        return "interfaces"
    if head in STAGES:
        return head
    return "base"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    where = PACKAGE.parent / name.replace(".", "/")
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imported(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from a.b import c`` imports a.b.c when c is a module, otherwise a.b.
            subs = [f"{node.module}.{a.name}" for a in node.names]
            modules = [t for t in subs if _is_module(t)]
            targets = modules if len(modules) == len(subs) else [node.module, *modules]
            out += [(node.lineno, t) for t in targets]
        elif isinstance(node, ast.ImportFrom) and node.level:
            out.append((node.lineno, "<relative>"))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(n, t) for n, t in out if t == "<relative>" or t.split(".")[0] == "assistant"]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_a_stage_imports_only_lower_stages(path: Path) -> None:
    here = module_name(path)
    rank = STAGES.index(stage_of(here))
    wrong = [
        f"line {line}: {target} ({stage_of(target)})"
        for line, target in imported(path)
        if target != "<relative>" and STAGES.index(stage_of(target)) > rank
    ]
    assert not wrong, f"{here} ({stage_of(here)}) imports a higher stage: {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_inside_the_package_are_absolute(path: Path) -> None:
    # Absolute imports name the stage, so the rule above can read them.
    relative = [line for line, target in imported(path) if target == "<relative>"]
    assert not relative, f"{module_name(path)}: relative imports on lines {relative}"


def test_the_checker_sees_a_violation() -> None:
    assert stage_of("assistant.generation.engine") == "generation"
    assert stage_of("assistant.config") == "base"
    assert stage_of("assistant.ui.main") == "interfaces"
    assert STAGES.index(stage_of("assistant.chain.api")) > STAGES.index(
        stage_of("assistant.retrieval.cards"))


def test_every_stage_is_a_package() -> None:
    for stage in STAGES[1:-2]:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_a_lazy_upward_import_is_found(tmp_path: Path) -> None:
    # The shortcut this file exists to catch: a lower stage reaching up inside a function.
    lower = tmp_path / "lower.py"
    lower.write_text(
        "def f():\n    from assistant.chain.api import Assistant\n    return Assistant\n"
    )
    found = imported(lower)
    assert found == [(2, "assistant.chain.api")]
    assert STAGES.index(stage_of(found[0][1])) > STAGES.index("retrieval")
