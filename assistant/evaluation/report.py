"""Write an ``EvalReport`` as report.json, report.md and report.html (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from assistant.evaluation.cases import SPLITS
from assistant.evaluation.metrics import MetricSummary
from assistant.evaluation.results import TIMING_METRICS, EvalReport, SplitSummary
from assistant.evaluation.suites import ALL_SUITE_METRICS

_ANSWER_COLUMNS = (
    "pass_rate",
    "decision_recall",
    "decision_precision",
    "status_accuracy",
    "citation_support",
    "hit_at_k",
    "mrr",
)
_RETRIEVAL_COLUMNS = ("hit_at_k", "recall_at_k", "mrr", "ndcg_at_10")


def _columns(report: EvalReport) -> tuple[str, ...]:
    return _ANSWER_COLUMNS if report.kind == "answers" else _RETRIEVAL_COLUMNS


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric in TIMING_METRICS or metric.endswith("_ms"):
        return f"{value:.1f}"
    if metric == "cases":
        return str(int(value))
    return f"{value:.3f}"


def fmt_summary(ms: MetricSummary | None, metric: str) -> str:
    if ms is None or ms.value is None:
        return "–"
    text = fmt(ms.value, metric)
    if ms.ci_low is not None and ms.ci_high is not None and ms.n > 1:
        text += f" [{fmt(ms.ci_low, metric)}, {fmt(ms.ci_high, metric)}]"
    return text


def headline_rows(report: EvalReport) -> list[list[str]]:
    """Rows ``[metric, value per backend...]``; values carry their 95% CI in brackets."""
    rows = []
    for metric in report.headline():
        row = [metric.replace("_at_k", f"@{report.k}").replace("_at_10", "@10")]
        for b in report.backends:
            row.append(fmt_summary(report.summaries[b].metrics.get(metric), metric))
        rows.append(row)
    statuses = sorted({st for b in report.backends for st in report.summaries[b].by_status})
    for status in statuses:
        rows.append([
            f"status_accuracy[{status}]",
            *[fmt_summary(report.summaries[b].by_status.get(status), "") for b in report.backends],
        ])
    rows.append(["cases passed", *[
        f"{report.summaries[b].passed}/{report.summaries[b].cases}" for b in report.backends
    ]])
    return rows


SIDE_BY_SIDE_METRICS: tuple[str, ...] = (
    "pass_rate",
    "decision_recall",
    "decision_precision",
    "must_not_rate",
    "status_accuracy",
    "citation_support",
    "citation_url_correctness",
)
"""Headline metrics shown per split, followed by the suite metrics and calibration error."""


def _split_value(ss: SplitSummary | None, metric: str) -> str:
    if ss is None:
        return "not run"
    if metric == "ece":
        return fmt(ss.calibration.ece)
    if metric == "cases passed":
        return f"{ss.summary.passed}/{ss.summary.cases}"
    ms = ss.suite_metrics.get(metric) or ss.summary.metrics.get(metric)
    return fmt_summary(ms, metric)


def split_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    """Dev and held-out side by side for every backend (a split not run says so)."""
    splits = [*SPLITS, *sorted({s for b in report.splits.values() for s in b} - set(SPLITS))]
    header = ["metric", *[f"{b} · {sp}" for b in report.backends for sp in splits]]
    present = {m for b in report.splits.values() for ss in b.values() for m in ss.suite_metrics}
    metrics = [*SIDE_BY_SIDE_METRICS, *[m for m in ALL_SUITE_METRICS if m in present], "ece",
               "cases passed"]
    rows = []
    for metric in metrics:
        rows.append([metric, *[
            _split_value(report.splits.get(b, {}).get(sp), metric)
            for b in report.backends for sp in splits
        ]])
    return header, rows


def calibration_rows(report: EvalReport) -> list[list[str]]:
    """``[backend, split, label, count, share correct, stated]`` rows."""
    rows = []
    for b in report.backends:
        if b in report.references:
            continue
        for sp, ss in report.splits.get(b, {}).items():
            for row in ss.calibration.rows:
                rows.append([b, sp, row.label, str(row.count), fmt(row.share_correct),
                             fmt(row.stated)])
            rows.append([b, sp, "ECE", str(ss.calibration.n), fmt(ss.calibration.ece), ""])
    return rows


def ablation_table(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    """Component, pass-rate and decision-recall deltas per split, then suite deltas."""
    header = ["component", "backend"]
    for sp in SPLITS:
        header += [f"Δ pass_rate {sp}", f"Δ decision_recall {sp}"]
    header.append("Δ suite metrics")
    rows = []
    for row in report.ablations:
        cells = [row.component, row.backend]
        for sp in SPLITS:
            d = row.deltas.get(sp)
            for metric in ("pass_rate", "decision_recall"):
                value = None if d is None else d.get(metric)
                cells.append("not run" if d is None else _signed(value))
        suite = [f"{m} {sp} {_signed(v)}" for sp, d in row.deltas.items() for m, v in d.items()
                 if m not in ("pass_rate", "decision_recall")]
        cells.append("; ".join(suite) or "–")
        rows.append(cells)
    return header, rows


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _breakdown_rows(
    table: dict[str, dict[str, float | None]], columns: Sequence[str]
) -> list[list[str]]:
    return [
        [name, fmt(row.get("cases"), "cases"), *[fmt(row.get(c)) for c in columns]]
        for name, row in table.items()
    ]


def _comparison_md(report: EvalReport) -> list[str]:
    comp = report.comparison
    if comp is None:
        return []
    out = [f"## Against baseline `{comp.baseline}` (tolerance {comp.tolerance})", ""]
    for bc in comp.backends:
        out += [f"### {bc.backend}", ""]
        rows = [
            [
                d.metric,
                fmt(d.baseline, d.metric),
                fmt(d.current, d.metric),
                "–" if d.delta is None else f"{d.delta:+.3f}",
                "–" if d.p_bootstrap is None else f"{d.p_bootstrap:.3f}",
                "–" if d.p_sign is None else f"{d.p_sign:.3f}",
                "REGRESSION" if d.regression else "",
            ]
            for d in bc.deltas
        ]
        out += [_md_table(["metric", "baseline", "current", "delta", "p (paired bootstrap)",
                           "p (sign)", ""], rows), ""]
        out.append("Newly failing: " + (", ".join(bc.newly_failing) or "none"))
        out.append("")
        out.append("Newly passing: " + (", ".join(bc.newly_passing) or "none"))
        out.append("")
        if bc.only_current or bc.only_baseline:
            out.append(f"New cases: {len(bc.only_current)}; cases gone: {len(bc.only_baseline)}")
            out.append("")
    return out


def to_markdown(report: EvalReport) -> str:
    title = "Retrieval eval" if report.kind == "retrieval" else "Answer eval"
    out = [
        f"# kubeplan {title}",
        "",
        f"Created {report.created:%Y-%m-%d %H:%M UTC} · kubeplan {report.version} · "
        f"cases `{report.cases_file}` · collection `{report.collection}` · k={report.k}",
        "",
        "## Headline (mean over cases, 95% bootstrap CI)",
        "",
        _md_table(["metric", *report.backends], headline_rows(report)),
        "",
    ]
    if report.kind == "answers" and report.splits:
        header, rows = split_rows(report)
        out += ["## Dev and held-out side by side", "",
                "Dev is for building; held-out is for judging and never tuned on.", "",
                _md_table(header, rows), ""]
        if report.references:
            out += [f"Reference row{'s' if len(report.references) > 1 else ''} "
                    f"({', '.join(report.references)}): catalogue cards ranked by embedding "
                    "similarity to the question, top 5, no citations; scored on decisions "
                    "and status only.", ""]
        cal = calibration_rows(report)
        if cal:
            out += ["## Calibration (confidence against correctness)", "",
                    _md_table(["backend", "split", "label", "count", "share correct",
                               "stated"], cal), ""]
    if report.ablations:
        header, rows = ablation_table(report)
        out += ["## Ablations (ablated − normal)", "", _md_table(header, rows), ""]
    if report.gate.failures:
        out += ["## Gate: FAILED", ""] + [f"- {f}" for f in report.gate.failures] + [""]
    out += _comparison_md(report)
    cols = _columns(report)
    header = ["", "cases", *cols]
    for b in report.backends:
        s = report.summaries[b]
        if s.by_topic:
            out += [f"## Per topic: {b}", "", _md_table(header, _breakdown_rows(s.by_topic, cols)),
                    ""]
        if s.by_tag:
            out += [f"## Per tag: {b}", "", _md_table(header, _breakdown_rows(s.by_tag, cols)), ""]
    for b in report.backends:
        failing = [r for r in report.results_of(b) if not r.passed]
        out += [f"## Failing cases: {b} ({len(failing)})", ""]
        if not failing:
            out += ["none", ""]
            continue
        rows = [
            [r.case_id, r.status or "", ", ".join(r.recommended) or "–", "; ".join(r.reasons)]
            for r in failing
        ]
        out += [_md_table(["case", "status", "recommended", "why"], rows), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- plots


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(report: EvalReport) -> dict[str, str]:
    """Base64 PNGs: per-topic scores, backend comparison, latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, str] = {}
    backends = report.backends
    width = 0.8 / max(1, len(backends))

    first = report.summaries[backends[0]]
    groups = first.by_topic or first.by_tag
    metric = "decision_recall" if report.kind == "answers" else "hit_at_k"
    if groups:
        names = list(groups)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(names)), 3.5))
        for i, b in enumerate(backends):
            table = report.summaries[b].by_topic or report.summaries[b].by_tag
            vals = [table.get(n, {}).get(metric) or 0.0 for n in names]
            ax.bar([x + i * width for x in range(len(names))], vals, width, label=b)
        ax.set_xticks([x + width * (len(backends) - 1) / 2 for x in range(len(names))])
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per {'topic' if first.by_topic else 'tag'}")
        ax.legend()
        images["per_topic"] = _png(fig)
        plt.close(fig)

    quality = [mm for mm in report.headline() if mm not in TIMING_METRICS]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(quality)), 3.5))
    for i, b in enumerate(backends):
        ms = [report.summaries[b].metrics.get(q) for q in quality]
        vals = [x.value if x and x.value is not None else 0.0 for x in ms]
        err_low = [v - (x.ci_low if x and x.ci_low is not None else v) for v, x in zip(vals, ms,
                                                                                       strict=True)]
        err_high = [(x.ci_high if x and x.ci_high is not None else v) - v for v, x in zip(vals, ms,
                                                                                          strict=True)]
        ax.bar([x + i * width for x in range(len(quality))], vals, width, label=b,
               yerr=[err_low, err_high], capsize=2)
    ax.set_xticks([x + width * (len(backends) - 1) / 2 for x in range(len(quality))])
    ax.set_xticklabels(quality, rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Backend comparison (95% CI)")
    ax.legend()
    images["backends"] = _png(fig)
    plt.close(fig)

    reliability = [
        (b, sp, ss.calibration) for b in backends if b not in report.references
        for sp, ss in report.splits.get(b, {}).items() if ss.calibration.bins
    ]
    if reliability:
        fig, ax = plt.subplots(figsize=(5.0, 4.0))
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        for b, sp, cal in reliability:
            xs = [x for x, _, _ in cal.bins]
            ys = [y for _, y, _ in cal.bins]
            ece = "–" if cal.ece is None else f"{cal.ece:.3f}"
            ax.plot(xs, ys, marker="o", label=f"{b} {sp} (ECE {ece})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("stated probability")
        ax.set_ylabel("share correct")
        ax.set_title("Reliability")
        ax.legend(fontsize=8)
        images["reliability"] = _png(fig)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.0, 3.5))
    data = [[r.latency_ms for r in report.results_of(b)] or [0.0] for b in backends]
    ax.boxplot(data)
    ax.set_xticks(range(1, len(backends) + 1))
    ax.set_xticklabels(backends)
    ax.set_yscale("log")
    ax.set_ylabel("ms per case")
    ax.set_title("Latency distribution")
    images["latency"] = _png(fig)
    plt.close(fig)
    return images


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: EvalReport) -> str:
    """A single self-contained page: the Markdown report's tables, then the plots."""
    images = plots(report)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kubeplan eval</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
        ".fail{color:#b00}</style></head><body>",
        f"<h1>kubeplan {html.escape(report.kind)} eval</h1>",
        f"<p>{report.created:%Y-%m-%d %H:%M UTC} · cases {html.escape(str(report.cases_file))}"
        f" · collection {html.escape(str(report.collection))} · k={report.k}</p>",
        "<h2>Headline (95% bootstrap CI)</h2>",
        _html_table(["metric", *report.backends], headline_rows(report)),
    ]
    if report.kind == "answers" and report.splits:
        header, rows = split_rows(report)
        parts += ["<h2>Dev and held-out side by side</h2>", _html_table(header, rows)]
        cal = calibration_rows(report)
        if cal:
            parts += ["<h2>Calibration</h2>", _html_table(
                ["backend", "split", "label", "count", "share correct", "stated"], cal)]
    if report.ablations:
        header, rows = ablation_table(report)
        parts += ["<h2>Ablations (ablated − normal)</h2>", _html_table(header, rows)]
    if report.gate.failures:
        parts.append("<h2 class='fail'>Gate failed</h2><ul>")
        parts += [f"<li>{html.escape(f)}</li>" for f in report.gate.failures]
        parts.append("</ul>")
    if report.comparison:
        for bc in report.comparison.backends:
            parts.append(f"<h2>{html.escape(bc.backend)} against baseline</h2>")
            parts.append(_html_table(
                ["metric", "baseline", "current", "delta", "p (bootstrap)", "p (sign)", ""],
                [[d.metric, fmt(d.baseline, d.metric), fmt(d.current, d.metric),
                  "–" if d.delta is None else f"{d.delta:+.3f}",
                  "–" if d.p_bootstrap is None else f"{d.p_bootstrap:.3f}",
                  "–" if d.p_sign is None else f"{d.p_sign:.3f}",
                  "REGRESSION" if d.regression else ""] for d in bc.deltas],
            ))
            parts.append(f"<p>Newly failing: {html.escape(', '.join(bc.newly_failing) or 'none')}"
                         f"<br>Newly passing: {html.escape(', '.join(bc.newly_passing) or 'none')}"
                         "</p>")
    titles = {"per_topic": "Per-topic scores", "backends": "Backend comparison",
              "latency": "Latency distribution", "reliability": "Reliability (calibration)"}
    for key, data in images.items():
        parts.append(f"<h2>{titles[key]}</h2><img alt='{key}' src='data:image/png;base64,{data}'>")
    header = ["", "cases", *_columns(report)]
    for b in report.backends:
        s = report.summaries[b]
        if s.by_topic:
            parts += [f"<h2>Per topic: {html.escape(b)}</h2>",
                      _html_table(header, _breakdown_rows(s.by_topic, _columns(report)))]
        if s.by_tag:
            parts += [f"<h2>Per tag: {html.escape(b)}</h2>",
                      _html_table(header, _breakdown_rows(s.by_tag, _columns(report)))]
        failing = [r for r in report.results_of(b) if not r.passed]
        parts.append(f"<h2>Failing cases: {html.escape(b)} ({len(failing)})</h2>")
        parts.append(_html_table(
            ["case", "question", "status", "recommended", "why"],
            [[r.case_id, r.question, r.status or "", ", ".join(r.recommended),
              "; ".join(r.reasons)] for r in failing],
        ))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "md": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    paths["md"].write_text(to_markdown(report), encoding="utf-8")
    paths["html"].write_text(to_html(report), encoding="utf-8")
    return paths


def write_baseline(report: EvalReport, path: Path) -> Path:
    """Write the compact report (no answers) that ``--baseline`` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.compact().model_dump_json(indent=1), encoding="utf-8")
    return path
