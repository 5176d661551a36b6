"""Write an ``EvalReport`` as report.json, report.md and report.html (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from .metrics import MetricSummary
from .results import TIMING_METRICS, EvalReport

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
              "latency": "Latency distribution"}
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
