"""The per-case gate: baseline format, allowed regressions, failure messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.evaluation import Case, load_report, run_eval, write_baseline
from assistant.evaluation.regressions import (
    baseline_passing,
    describe,
    load_allowed_regressions,
    newly_failing,
)
from assistant.schemas import PlanAnswer
from tests.evaluation_fakes import FakeAssistant, answer, recommendation, source, tiny_catalogue

ETCD = "availability.etcd-odd-members"
CASES = [
    Case(id="etcd", question="how many etcd members", must=[[ETCD]]),
    Case(id="etcd-terse", question="etcd count", must=[[ETCD]], suite="paraphrases",
         variant_of="etcd"),
    Case(id="ho-etcd", question="etcd quorum size", must=[[ETCD]], split="heldout"),
]


def scripted(broken: set[str]) -> FakeAssistant:
    def script(question: str, backend: str) -> PlanAnswer:
        did = "tenancy.separate-clusters" if question in broken else ETCD
        return answer(question, [recommendation(did, ["s1"])],
                      [source("s1", "availability/etcd-ha.md", [did])], backend=backend)

    return FakeAssistant(script)


def run(broken: set[str]):  # type: ignore[no-untyped-def]
    return run_eval(scripted(broken), CASES, ["grounded"], catalogue=tiny_catalogue(),
                    support_threshold=0.0)


def test_baseline_records_passing_ids_per_backend_split_and_suite(tmp_path: Path) -> None:
    path = write_baseline(run({"etcd count"}), tmp_path / "b.json")
    base = load_report(path)
    assert base.passing["grounded"] == {
        "dev": {"main": ["etcd"], "paraphrases": []},
        "heldout": {"main": ["ho-etcd"]},
    }
    assert all(r.answer is None for r in base.results)
    assert baseline_passing(base)["grounded"] == {"etcd", "ho-etcd"}
    # An older baseline without `passing` is read from its results.
    old = base.model_copy(update={"passing": {}})
    assert baseline_passing(old)["grounded"] == {"etcd", "ho-etcd"}


def test_newly_failing_cases_unless_allowed(tmp_path: Path) -> None:
    base = load_report(write_baseline(run(set()), tmp_path / "b.json"))
    now = run({"etcd quorum size", "etcd count"})
    failing = newly_failing(now, base)
    assert [r.case_id for r in failing] == ["etcd-terse", "ho-etcd"]
    assert all(r.backend == "grounded" for r in failing)  # never the reference row
    line = describe(failing[1])
    assert line.startswith("[grounded heldout/main] ho-etcd: 'etcd quorum size' -> status "
                           "answered, recommended [tenancy.separate-clusters]")
    assert "missing availability.etcd-odd-members" in line
    assert [r.case_id for r in newly_failing(now, base, {"ho-etcd": "known"})] == ["etcd-terse"]
    assert newly_failing(run(set()), base) == []


def test_allowed_regressions_file(tmp_path: Path) -> None:
    assert load_allowed_regressions(tmp_path / "absent.yaml") == {}
    path = tmp_path / "allowed.yaml"
    path.write_text("- {id: ho-etcd, reason: 'corpus section rewritten, wording changed'}\n",
                    encoding="utf-8")
    assert load_allowed_regressions(path) == {"ho-etcd": "corpus section rewritten, wording "
                                              "changed"}
    path.write_text("- {id: ho-etcd}\n", encoding="utf-8")
    with pytest.raises(InputError, match="reason"):
        load_allowed_regressions(path)
    path.write_text("{id: x, reason: y}\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a YAML list"):
        load_allowed_regressions(path)
