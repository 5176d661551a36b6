"""Plan Markdown, MADR records, Markdown escaping and plan diffs (pure functions)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from assistant.chain.export import (
    citation_numbers,
    decision_madr,
    escape_markdown,
    plan_markdown,
    profile_items,
)
from assistant.chain.plan_diff import diff_plans
from assistant.schemas import Decision, PlanAnswer, PlanningProfile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ui"


def answers() -> dict[str, PlanAnswer]:
    raw = json.loads((FIXTURES / "answers.json").read_text(encoding="utf-8"))
    return {name: PlanAnswer.model_validate(data) for name, data in raw.items()}


def catalogue() -> dict[str, Decision]:
    decisions = [
        Decision(
            id="availability.etcd-odd-members",
            title="Run three or five etcd members",
            recommendation="Run three etcd members across three zones.",
            when=["self-managed control plane", "high availability target"],
            avoid_when=["managed control plane"],
            tradeoffs=["more members slow every write"],
            alternatives=["availability.single-control-plane"],
            sources=["https://etcd.io/docs/v3.5/faq/"],
            topic="availability",
        ),
        Decision(
            id="availability.single-control-plane",
            title="Run a single control-plane node",
            recommendation="Run one control-plane node for labs and edge sites.",
            when=["best-effort availability"],
            tradeoffs=["the API is down while the node is"],
            sources=["https://kubernetes.io/docs/setup/"],
            topic="availability",
        ),
    ]
    return {d.id: d for d in decisions}


def test_plan_markdown_has_every_recommendation_citation_and_profile() -> None:
    a = answers()
    text = plan_markdown(
        [a["etcd"], a["out_of_scope"]], generated=dt.datetime(2026, 11, 28, 5, tzinfo=dt.UTC)
    )
    for rec in a["etcd"].recommendations:
        assert f"(`{rec.decision_id}`)" in text
        assert rec.recommendation in text
    assert "| Hosting | on-prem |" in text
    assert "| Availability target | high |" in text
    # The second recommendation cites two passages: both are numbered and listed.
    assert "- **Sources:** [2], [1]" in text
    title = "Highly available control planes and etcd"
    assert f"1. **{title}** — Run three or five etcd members" in text
    assert "<https://etcd.io/docs/v3.5/faq/>" in text
    assert "**Status:** out of scope" in text
    assert "2026-11-28 05:00 UTC" in text


def test_plan_markdown_keeps_the_latest_version_of_a_repeated_decision() -> None:
    a = answers()
    text = plan_markdown([a["etcd"], a["etcd_aws"]])
    assert len(re.findall(r"^### \d+\. Run three or five etcd members", text, flags=re.M)) == 1
    assert "On AWS you may not need to run etcd at all." in text
    # The explicit profile wins over the last answer's.
    assert "| Hosting | aws |" in text
    text = plan_markdown([a["etcd"], a["etcd_aws"]], PlanningProfile(hosting=["gcp"]))
    assert "| Hosting | gcp |" in text


def test_plan_markdown_shows_raw_html_as_text() -> None:
    text = plan_markdown([answers()["etcd"]])
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in text


def test_plan_markdown_of_nothing_says_so() -> None:
    text = plan_markdown([])
    assert "No recommendation was made" in text
    assert "No passage was cited." in text
    assert "No profile facts" in text


def test_madr_has_the_template_sections_and_the_alternatives() -> None:
    a = answers()["etcd"]
    rec = a.recommendations[0]
    text = decision_madr(rec, a, catalogue(), date=dt.date(2026, 11, 28))
    assert text.startswith("---\nstatus: proposed\ndate: 2026-11-28\n")
    sections = re.findall(r"^##+ .*$", text, flags=re.M)
    assert sections[:7] == [
        "## Context and Problem Statement",
        "## Decision Drivers",
        "## Considered Options",
        "## Decision Outcome",
        "### Consequences",
        "## Pros and Cons of the Options",
        "### Run three or five etcd members",
    ]
    assert "* Run a single control-plane node (`availability.single-control-plane`)" in text
    assert (
        'Chosen option: "Run three or five etcd members", because you run a self-managed'
        in text
    )
    assert "* Good, because it fits: high availability target" in text
    assert "* Bad, because more members slow every write" in text
    assert "* self-managed control plane" in text  # a decision driver from `when`
    assert "How many etcd members should we run?" in text
    assert "<https://etcd.io/docs/v3.5/faq/>" in text


def test_madr_without_a_catalogue_entry_still_renders() -> None:
    a = answers()["etcd"]
    text = decision_madr(a.recommendations[1], a, {})
    assert "# Spread control-plane nodes across zones" in text
    assert "&lt;script&gt;" not in text  # snippets are not copied into the record
    assert "(`availability/etcd.md`)" in text
    assert "because a zone outage must not take the API down." in text
    aws = a.recommendations[1].model_copy(update={"rationale": "AWS runs etcd."})
    assert "because AWS runs etcd." in decision_madr(aws, a, {})


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "![x](https://evil.example/x.png)",
        "[click](javascript:alert(1))",
        "**bold** _it_ `code` # head",
        ":red[colour] :material/home: $x^2$",
    ],
)
def test_escape_markdown_leaves_no_active_syntax(raw: str) -> None:
    escaped = escape_markdown(raw)
    # Every special character is escaped, and removing the escapes gives the text back.
    assert re.sub(r"\\(.)", r"\1", escaped) == raw
    assert not re.search(r"(?<!\\)[<>\[\]()*_`#:$!]", escaped)


def test_citation_numbers_and_profile_items() -> None:
    a = answers()["etcd"]
    assert citation_numbers(a) == {"c-etcd-1": 1, "c-cp-2": 2}
    assert profile_items(PlanningProfile(workloads=["gpu", "batch"], team_size=4)) == [
        ("Workloads", "gpu, batch"),
        ("Platform team size", "4"),
    ]


def test_diff_plans_names_added_removed_and_changed() -> None:
    a = answers()
    diff = diff_plans(a["etcd"], a["etcd_aws"])
    assert [r.decision_id for r in diff.added] == ["platform.managed-control-plane"]
    assert [r.decision_id for r in diff.removed] == ["availability.control-plane-zones"]
    assert [c.decision_id for c in diff.changed] == ["availability.etcd-odd-members"]
    assert diff.changed[0].fields == ["rationale", "confidence"]
    assert not diff.is_empty


def test_diff_of_an_answer_with_itself_is_empty() -> None:
    a = answers()["etcd"]
    diff = diff_plans(a, a)
    assert diff.is_empty
    assert diff.unchanged == [r.decision_id for r in a.recommendations]
    moved = diff_plans(a, answers()["out_of_scope"])
    assert not moved.is_empty and len(moved.removed) == 2
