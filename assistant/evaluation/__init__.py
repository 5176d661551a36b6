"""kubeplan's eval harness: cases, deterministic metrics, runs over backends, reports, baselines.

>>> from assistant import Assistant
>>> from assistant.evaluation import load_cases, run_eval, write_reports
>>> report = run_eval(Assistant(), load_cases(Path("evals/cases.yaml")), ["grounded"])
>>> report.summaries["grounded"].metrics["decision_recall"].value
"""

from __future__ import annotations

from assistant.evaluation.cases import (
    Case,
    RetrievalCase,
    RetrievalSet,
    load_cases,
    load_retrieval_set,
    parse_cases,
    unknown_references,
)
from assistant.evaluation.compare import (
    DEFAULT_TOLERANCE,
    compare,
    gate,
    load_report,
    parse_fail_under,
)
from assistant.evaluation.report import to_html, to_markdown, write_baseline, write_reports
from assistant.evaluation.results import (
    ANSWER_METRICS,
    RETRIEVAL_METRICS,
    BackendSummary,
    CaseResult,
    Comparison,
    EvalReport,
    Gate,
)
from assistant.evaluation.runner import run_eval, run_retrieval_eval, score_answer, score_retrieval

__all__ = [
    "ANSWER_METRICS",
    "DEFAULT_TOLERANCE",
    "RETRIEVAL_METRICS",
    "BackendSummary",
    "Case",
    "CaseResult",
    "Comparison",
    "EvalReport",
    "Gate",
    "RetrievalCase",
    "RetrievalSet",
    "compare",
    "gate",
    "load_cases",
    "load_report",
    "load_retrieval_set",
    "parse_cases",
    "parse_fail_under",
    "run_eval",
    "run_retrieval_eval",
    "score_answer",
    "score_retrieval",
    "to_html",
    "to_markdown",
    "unknown_references",
    "write_baseline",
    "write_reports",
]
