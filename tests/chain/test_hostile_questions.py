"""Regression tests for hostile questions (issue 13): length cap, bytes that are not UTF-8,
and the time budget per answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.errors import AnswerTimeoutError, InputError
from assistant.ingest.untrusted import clean_question
from tests.chain_support import fixture_assistant

REPO = Path(__file__).resolve().parent.parent.parent


def test_a_long_question_is_refused_with_the_limit(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path, max_question_chars=2000)
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        a.ask("How many etcd members? " * 300)  # 6.9 KB: took 28 s before the cap
    assert time.perf_counter() - started < 1.0
    assert "limit is 2000" in info.value.problem and "KUBEPLAN_MAX_QUESTION_CHARS" in (
        info.value.fix or ""
    )
    with pytest.raises(InputError, match="limit"):
        a.retrieve("etcd " * 1000)
    assert a.ask("How many etcd members? " * 80).status  # 1,840 characters: fine


def test_bytes_that_are_not_utf8_become_replacement_characters(tmp_path: Path) -> None:
    a = fixture_assistant(tmp_path)
    # What Python makes of the byte 0xff in a command-line argument.
    answer = a.ask("How many etcd members\udcff should we run?")
    assert answer.question == "How many etcd members\ufffd should we run?"
    answer.model_dump_json()  # serialisable: no lone surrogate left
    assert clean_question("a\ud800b\u200bc\x07", 100) == "a\ufffdbc"
    with pytest.raises(InputError, match="empty"):
        clean_question("\u200b\x00 ", 100)


def test_cli_reports_bad_questions_without_a_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KUBEPLAN_EMBEDDER": "fake",
        "KUBEPLAN_DATA_DIR": str(tmp_path / "data"),
    }
    long = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "x" * 30_000],
        capture_output=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert long.returncode == 2
    err = long.stderr.decode("utf-8")
    assert "error:" in err and "limit is 2000" in err and "Traceback" not in err
    bad = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", b"etcd members \xff quorum"],
        capture_output=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert b"Traceback" not in bad.stderr, bad.stderr.decode(errors="replace")
    bad.stderr.decode("utf-8")
    bad.stdout.decode("utf-8")


def test_the_answer_time_budget_stops_between_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = fixture_assistant(tmp_path, answer_timeout=0.2)
    search = a.retriever.search

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.4)
        return search(*args, **kwargs)

    monkeypatch.setattr(a.retriever, "search", slow)
    with pytest.raises(AnswerTimeoutError) as info:
        a.ask("How many etcd members should we run?")
    assert "0.2-second budget" in info.value.problem and "retrieval" in info.value.problem
    assert "KUBEPLAN_ANSWER_TIMEOUT" in (info.value.fix or "")
