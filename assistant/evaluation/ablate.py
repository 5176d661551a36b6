"""Ablations: the normal engine against one run per switched-off component.

Component names come from ``assistant.ablation.COMPONENTS`` at run time, so a new engine
with other components needs no change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from assistant.chain.ablation import COMPONENTS, checked
from assistant.evaluation.cases import Case
from assistant.evaluation.results import AblationRow, SplitSummary
from assistant.evaluation.runner import AnswerSource, Progress, run_eval
from assistant.index.embedding import Embedder
from assistant.ingest.catalogue import Catalogue

ABLATION_METRICS: tuple[str, ...] = ("pass_rate", "decision_recall")


class Ablatable(AnswerSource, Protocol):
    def with_ablations(self, names: Iterable[str]) -> Ablatable: ...


def resolve(names: Sequence[str]) -> list[str]:
    """``["all"]`` -> every component, one at a time; otherwise the names, checked."""
    if "all" in names:
        return list(COMPONENTS)
    checked(names)
    return list(dict.fromkeys(names))


def split_values(summary: SplitSummary) -> dict[str, float | None]:
    """The metrics an ablation row compares: pass rate, decision recall, suite metrics."""
    values = {m: summary.summary.metrics[m].value for m in ABLATION_METRICS
              if m in summary.summary.metrics}
    values.update({m: ms.value for m, ms in summary.suite_metrics.items()})
    return values


def ablation_row(
    component: str,
    backend: str,
    normal: Mapping[str, SplitSummary],
    ablated: Mapping[str, SplitSummary],
) -> AblationRow:
    """Deltas ``ablated - normal`` per split and metric; pure."""
    deltas: dict[str, dict[str, float | None]] = {}
    values: dict[str, dict[str, float | None]] = {}
    for split, base in normal.items():
        if split not in ablated:
            continue
        before, after = split_values(base), split_values(ablated[split])
        values[split] = after
        deltas[split] = {
            m: None if before.get(m) is None or after.get(m) is None
            else after[m] - before[m]  # type: ignore[operator]
            for m in before
        }
    return AblationRow(component=component, description=COMPONENTS.get(component, ""),
                       backend=backend, deltas=deltas, values=values)


def run_ablations(
    assistant: Ablatable,
    cases: Sequence[Case],
    normal: Mapping[str, SplitSummary],
    components: Sequence[str],
    backend: str,
    *,
    k: int = 10,
    catalogue: Catalogue | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> list[AblationRow]:
    """One run of ``backend`` per component with that component off; rows against
    ``normal`` (the split summaries of the normal run of the same backend)."""
    rows = []
    for name in components:
        report = run_eval(
            assistant.with_ablations([name]), cases, [backend], k=k, catalogue=catalogue,
            embedder=embedder, support_threshold=0.0, reference=False, score_support=False,
            progress=progress,
        )
        rows.append(ablation_row(name, backend, normal, report.splits[backend]))
    return rows
