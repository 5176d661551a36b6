"""Feedback on answers: a small SQLite store, and thumbs-downs turned into draft eval cases.

The store keeps one row per answer (keyed by the caller's ``answer_key``), so changing a thumb
or adding a comment later updates the row instead of adding another.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.errors import InputError, StoreError
from assistant.schemas import PlanAnswer, PlanningProfile, Turn

Rating = Literal["up", "down"]

FEEDBACK_FILE = "feedback.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    backend TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    history_json TEXT NOT NULL DEFAULT '[]',
    profile_json TEXT
)
"""
_COLUMNS = (
    "id, answer_key, created_at, updated_at, rating, comment, question, backend, answer_json, "
    "history_json, profile_json"
)


class FeedbackEntry(BaseModel):
    """One stored rating of one answer."""

    model_config = ConfigDict(extra="forbid")

    id: int
    answer_key: str
    created_at: dt.datetime
    updated_at: dt.datetime
    rating: Rating
    comment: str = ""
    question: str
    backend: str
    answer: PlanAnswer
    history: list[Turn] = Field(default_factory=list)
    profile: PlanningProfile | None = Field(
        default=None, description="The profile the caller passed with the question, if any."
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FeedbackStore:
    """Feedback rows in ``path`` (SQLite; the file and its folder are created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_settings(cls, settings: Settings) -> FeedbackStore:
        return cls(settings.data_dir / FEEDBACK_FILE)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                conn.row_factory = sqlite3.Row
                conn.execute(_SCHEMA)
                with conn:
                    yield conn
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"The feedback database {self.path} cannot be used: {exc}.",
                "check that KUBEPLAN_DATA_DIR points to a writable folder, or move a damaged "
                f"{FEEDBACK_FILE} aside.",
            ) from exc

    def record(
        self,
        answer_key: str,
        rating: Rating,
        answer: PlanAnswer,
        *,
        history: Sequence[Turn] = (),
        profile: PlanningProfile | None = None,
        comment: str | None = None,
        now: dt.datetime | None = None,
    ) -> FeedbackEntry:
        """Store (or update) the rating of the answer known as ``answer_key``.

        ``history`` and ``profile`` are what was passed along with the question, so the
        question can be asked again exactly. ``comment=None`` keeps a comment stored earlier;
        a string replaces it.
        """
        if rating not in ("up", "down"):
            raise InputError(f"Feedback rating {rating!r} is not 'up' or 'down'.",
                             "send up or down.")
        stamp = (now or _now()).isoformat()
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO feedback (answer_key, created_at, updated_at, rating, comment, "
                "question, backend, answer_json, history_json, profile_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(answer_key) DO UPDATE SET updated_at = excluded.updated_at, "
                "rating = excluded.rating, "
                "comment = CASE WHEN ? THEN excluded.comment ELSE feedback.comment END, "
                "question = excluded.question, backend = excluded.backend, "
                "answer_json = excluded.answer_json, history_json = excluded.history_json, "
                "profile_json = excluded.profile_json",
                (
                    answer_key,
                    stamp,
                    stamp,
                    rating,
                    comment or "",
                    answer.question,
                    answer.backend,
                    answer.model_dump_json(),
                    json.dumps([t.model_dump() for t in history]),
                    profile.model_dump_json() if profile is not None else None,
                    comment is not None,
                ),
            )
        entry = self.get_by_key(answer_key)
        assert entry is not None  # just written in the same database
        return entry

    def set_comment(self, answer_key: str, comment: str) -> FeedbackEntry | None:
        """Replace the comment of a rated answer; ``None`` when it has no rating yet."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE feedback SET comment = ?, updated_at = ? WHERE answer_key = ?",
                (comment, _now().isoformat(), answer_key),
            )
        return self.get_by_key(answer_key)

    def _select(self, where: str = "", params: Sequence[Any] = (), suffix: str = "") -> list[
        FeedbackEntry
    ]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM feedback {where} {suffix}", params)
            return [_entry(row) for row in rows.fetchall()]

    def get(self, entry_id: int) -> FeedbackEntry | None:
        found = self._select("WHERE id = ?", (entry_id,))
        return found[0] if found else None

    def get_by_key(self, answer_key: str) -> FeedbackEntry | None:
        found = self._select("WHERE answer_key = ?", (answer_key,))
        return found[0] if found else None

    def list(self, rating: Rating | None = None, limit: int | None = None) -> list[FeedbackEntry]:
        """Stored feedback, newest first, optionally only one rating."""
        where, params = ("WHERE rating = ?", [rating]) if rating else ("", [])
        suffix = "ORDER BY updated_at DESC, id DESC"
        args: list[Any] = list(params)
        if limit is not None:
            suffix += " LIMIT ?"
            args.append(int(limit))
        return self._select(where, args, suffix)


def _entry(row: sqlite3.Row) -> FeedbackEntry:
    profile = row["profile_json"]
    return FeedbackEntry(
        id=row["id"],
        answer_key=row["answer_key"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        updated_at=dt.datetime.fromisoformat(row["updated_at"]),
        rating=row["rating"],
        comment=row["comment"],
        question=row["question"],
        backend=row["backend"],
        answer=PlanAnswer.model_validate_json(row["answer_json"]),
        history=[Turn.model_validate(t) for t in json.loads(row["history_json"])],
        profile=PlanningProfile.model_validate_json(profile) if profile else None,
    )


# --------------------------------------------------------------------------- draft eval cases

_DECISION_ID = re.compile(r"\b[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*\b")


def _slug(text: str, words: int = 6) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:words]) or "question"


def draft_eval_case(entry: FeedbackEntry, known_decision_ids: Iterable[str] = ()) -> dict[str, Any]:
    """A draft case for ``evals/cases.yaml`` from a rated answer (meant for thumbs-downs).

    The question, history and profile sent with it carry over (the profile kubeplan read
    from the question itself is left out: the case checks that it is read again). Decision
    ids named in the comment that exist in ``known_decision_ids`` become ``must`` groups (one
    id each); the reviewer fills in the rest. A draft assumes the question deserved an answer.
    """
    known = set(known_decision_ids)
    wanted = list(dict.fromkeys(d for d in _DECISION_ID.findall(entry.comment) if d in known))
    answer = entry.answer
    topics = sorted({r.decision_id.split(".", 1)[0] for r in answer.recommendations})
    case: dict[str, Any] = {
        "id": f"feedback-{entry.id}-{_slug(entry.question)}",
        "question": entry.question,
    }
    if entry.history:
        case["history"] = [t.model_dump() for t in entry.history]
    profile = entry.profile.model_dump(exclude_defaults=True) if entry.profile else {}
    if profile:
        case["profile"] = profile
    case.update(
        {
            "expect_status": "answered",
            "must": [[d] for d in wanted],
            "must_not": [],
            "expect_sources": [],
            "tags": ["feedback", *topics],
        }
    )
    return case


def draft_eval_case_yaml(entry: FeedbackEntry, known_decision_ids: Iterable[str] = ()) -> str:
    """``draft_eval_case`` as a YAML list item, headed by comments that tell the reviewer what
    kubeplan answered and what to fill in."""
    case = draft_eval_case(entry, known_decision_ids)
    answer = entry.answer
    recommended = ", ".join(r.decision_id for r in answer.recommendations) or "nothing"
    notes = [
        f"Draft eval case from feedback #{entry.id} (thumbs {entry.rating}, "
        f"{entry.updated_at.isoformat(timespec='seconds')}, backend {entry.backend}).",
        f"kubeplan's answer: status {answer.status}; recommended {recommended}.",
    ]
    if entry.comment:
        notes.append("User comment: " + " ".join(entry.comment.split()))
    notes.append(
        "Fill in `must` (groups of decision ids, any one of a group passes), `must_not` and "
        "`expect_sources`, check `expect_status`, then add the case to evals/cases.yaml."
    )
    wrap = textwrap.TextWrapper(96, break_long_words=False, break_on_hyphens=False)
    header = [f"# {line}" for note in notes for line in wrap.wrap(note)]
    body = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body
