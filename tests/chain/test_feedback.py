"""The SQLite feedback store and draft eval cases made from thumbs-downs."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from assistant.chain.feedback import FeedbackStore, draft_eval_case, draft_eval_case_yaml
from assistant.config import Settings
from assistant.errors import InputError, StoreError
from assistant.evaluation.cases import parse_cases
from assistant.schemas import PlanAnswer, PlanningProfile, Turn

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ui"


def answer(name: str = "etcd") -> PlanAnswer:
    raw = json.loads((FIXTURES / "answers.json").read_text(encoding="utf-8"))
    return PlanAnswer.model_validate(raw[name])


T0 = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)


def test_store_lives_in_the_data_dir_and_round_trips(fake_settings: Settings) -> None:
    store = FeedbackStore.for_settings(fake_settings)
    assert store.path == fake_settings.data_dir / "feedback.db"
    assert store.list() == []  # no file yet: nothing, and nothing created
    assert not store.path.exists()
    history = [Turn(role="user", content="We run on-prem.")]
    profile = PlanningProfile(hosting=["edge"])
    entry = store.record(
        "k1", "down", answer(), history=history, profile=profile, comment="wrong", now=T0
    )
    assert store.path.is_file()
    assert entry.rating == "down" and entry.comment == "wrong"
    assert entry.question == "How many etcd members should we run?"
    assert entry.backend == "grounded"
    assert entry.answer == answer() and entry.history == history and entry.profile == profile
    assert entry.created_at == T0
    with sqlite3.connect(store.path) as conn:
        row = conn.execute("SELECT question, backend, answer_json, rating FROM feedback").fetchone()
    assert row[0] == "How many etcd members should we run?" and row[1] == "grounded"
    assert PlanAnswer.model_validate_json(row[2]) == answer() and row[3] == "down"


def test_rating_the_same_answer_again_updates_one_row(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.db")
    store.record("k1", "down", answer(), comment="first", now=T0)
    later = T0 + dt.timedelta(minutes=1)
    entry = store.record("k1", "up", answer(), now=later)
    assert entry.rating == "up"
    assert entry.comment == "first"  # comment=None keeps the earlier comment
    assert entry.created_at == T0 and entry.updated_at == later
    assert len(store.list()) == 1
    assert store.set_comment("k1", "better now") is not None
    assert store.get_by_key("k1").comment == "better now"  # type: ignore[union-attr]
    assert store.set_comment("unknown", "x") is None


def test_list_is_newest_first_and_filters_by_rating(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.db")
    for i, rating in enumerate(["up", "down", "down"]):
        store.record(f"k{i}", rating, answer(), now=T0 + dt.timedelta(minutes=i))  # type: ignore[arg-type]
    assert [e.answer_key for e in store.list()] == ["k2", "k1", "k0"]
    assert [e.answer_key for e in store.list("down")] == ["k2", "k1"]
    assert [e.answer_key for e in store.list(limit=1)] == ["k2"]
    first = store.list()[-1]
    assert store.get(first.id) == first
    assert store.get(999) is None


def test_bad_rating_and_unusable_database_raise_kubeplan_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        FeedbackStore(tmp_path / "f.db").record("k", "meh", answer())  # type: ignore[arg-type]
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreError) as info:
        FeedbackStore(broken).record("k", "up", answer())
    assert "broken.db" in info.value.problem and info.value.fix


def test_draft_case_is_a_valid_eval_case(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.db")
    history = [Turn(role="user", content="We run on-prem."), Turn(role="assistant", content="ok")]
    entry = store.record(
        "k1",
        "down",
        answer(),
        history=history,
        profile=PlanningProfile(hosting=["on-prem"], availability="high"),
        comment="should say availability.control-plane-zones, not nope.unknown-id",
        now=T0,
    )
    known = {"availability.control-plane-zones", "availability.etcd-odd-members"}
    case = draft_eval_case(entry, known)
    assert case["id"] == f"feedback-{entry.id}-how-many-etcd-members-should-we"
    assert case["question"] == entry.question
    assert case["history"] == [t.model_dump() for t in history]
    assert case["profile"] == {"hosting": ["on-prem"], "availability": "high"}
    assert case["must"] == [["availability.control-plane-zones"]]
    assert case["expect_status"] == "answered"
    assert case["tags"] == ["feedback", "availability"]
    parsed = parse_cases([case])
    assert parsed[0].id == case["id"]

    text = draft_eval_case_yaml(entry, known)
    assert "# kubeplan's answer: status answered; recommended availability.etcd-odd-members" in text
    assert "# User comment: should say" in text
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("#"))
    loaded = yaml.safe_load(text)
    assert loaded == [case]
    assert parse_cases(loaded)[0].must == [["availability.control-plane-zones"]]


def test_draft_case_without_history_or_profile_omits_them(tmp_path: Path) -> None:
    # The answer's profile was read from the question, not sent with it: it is left out.
    entry = FeedbackStore(tmp_path / "f.db").record("k", "down", answer("etcd_aws"))
    assert entry.profile is None and not entry.answer.profile.is_empty()
    case = draft_eval_case(entry)
    assert "history" not in case and "profile" not in case
    assert case["must"] == [] and case["tags"] == ["feedback", "availability", "platform"]
    parse_cases([case])
