"""The Streamlit app driven by ``streamlit.testing.v1.AppTest``.

Most tests run the app over a tiny curated fixture corpus (``tests/fixtures/ui/corpus``) ingested
with the fake embedder, so the answers are fast and deterministic; one runs over the real
bundled corpus through the shared ``corpus_assistant`` fixture.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from assistant.chain.api import Assistant
from assistant.chain.export import escape_markdown
from assistant.chain.feedback import FeedbackStore
from assistant.config import Settings
from assistant.evaluation.cases import parse_cases

REPO = Path(__file__).resolve().parent.parent.parent
APP = REPO / "app.py"
UI_CORPUS = Path(__file__).parent.parent / "fixtures" / "ui" / "corpus"
COLLECTION = "uitest"
ETCD_QUESTION = "How many etcd members should we run?"
CONTROL_PLANE_QUESTION = "Should we run our own control plane?"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the fixture corpus, ingested once for the module."""
    data = tmp_path_factory.mktemp("ui-data") / "data"
    settings = Settings(
        data_dir=data,
        embedder="fake",
        corpus_dir=UI_CORPUS,
        collection=COLLECTION,
        _env_file=None,
    )
    report = Assistant(settings).ingest([UI_CORPUS])
    assert report.files_ingested == 2 and not report.files_failed
    return data


@pytest.fixture
def data_dir(ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the ingested data dir (feedback.db starts empty), set as the app's."""
    data = tmp_path / "data"
    shutil.copytree(ingested, data)
    _point_app_at(monkeypatch, data_dir=data, corpus_dir=UI_CORPUS, collection=COLLECTION)
    monkeypatch.setenv("KUBEPLAN_EMBEDDER", "fake")
    return data


def _point_app_at(
    monkeypatch: pytest.MonkeyPatch, *, data_dir: Path, corpus_dir: Path, collection: str
) -> None:
    monkeypatch.setenv("KUBEPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KUBEPLAN_CORPUS_DIR", str(corpus_dir))
    monkeypatch.setenv("KUBEPLAN_COLLECTION", collection)
    monkeypatch.chdir(data_dir.parent)  # no stray .env from the working directory


class _Downloads(MemoryMediaFileStorage):
    """Media storage that also remembers download payloads by their file name."""

    saved: dict[str, bytes] = {}  # noqa: RUF012

    def load_and_get_id(
        self, path_or_data: str | bytes, mimetype: str, kind: Any, filename: str | None = None
    ) -> str:
        if filename and isinstance(path_or_data, bytes):
            _Downloads.saved[filename] = path_or_data
        return super().load_and_get_id(path_or_data, mimetype, kind, filename)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    import streamlit.testing.v1.app_test as app_test

    _Downloads.saved = {}
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", _Downloads)
    yield _Downloads.saved


def start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception
    return at


def markdowns(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def cards(at: AppTest) -> list[str]:
    """The card titles shown (card headings are ##### Markdown headings)."""
    return [m.value[6:] for m in at.markdown if m.value.startswith("##### ")]


# --------------------------------------------------------------------------- chat


def test_a_question_produces_cards_with_citations_and_sources(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    assert not at.error
    titles = cards(at)
    assert escape_markdown("Run three etcd members") in titles
    shown = markdowns(at)
    assert sum(m.startswith("**What to do:**") for m in shown) == len(titles)
    assert sum(m.startswith("**Why:**") for m in shown) == len(titles)
    citations = [m for m in shown if m.startswith("**Citations:**")]
    assert len(citations) == len(titles) and all("\\[1\\]" in c or "\\[" in c for c in citations)
    assert "\\[1\\]" in citations[0]
    badges = [m for m in shown if "-badge[" in m]
    assert len(badges) == len(titles) and all("confidence" in b for b in badges)
    # Sources panel: one expander per cited passage, numbered, snippet shown as plain text.
    labels = [e.label for e in at.expander]
    assert labels and labels[0].startswith("\\[1\\] ")
    texts = [t.value for t in at.text]
    assert any("Three etcd members keep quorum" in t for t in texts)
    # Citations link to the upstream page of the passage.
    assert "(https://etcd.io/docs/v3.5/faq/)" in citations[0]


def test_an_open_question_is_answered_by_the_user_and_replans(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    hosting = next(
        b for b in at.button if b.key and b.key.startswith("oq_") and "Where will" in b.label
    )
    hosting.click().run()
    assert not at.exception
    # The question is for the user: a choice of the profile's hosting values, not a new chat turn.
    assert len([m for m in at.chat_message if m.name == "user"]) == 1
    choice = next(m for m in at.multiselect if m.key and m.key.startswith("oqa_"))
    assert "on-prem" in choice.options
    choice.set_value(["on-prem"])
    submit = next(b for b in at.button if b.label == "Use this answer and re-plan")
    submit.click().run()
    assert not at.exception and not at.error
    assert at.session_state["explicit"].hosting == ["on-prem"]
    assistants = [m for m in at.chat_message if m.name == "assistant"]
    assert len(assistants) == 2
    assert any("Superseded" in c.value for c in assistants[0].caption)
    note = escape_markdown("Re-planned with the facts you set: Hosting: on-prem")
    assert any(note in c.value for c in assistants[1].caption)
    # The fact shows as a chip set by the user.
    assert any("Hosting\\: on\\-prem" in m.value and "blue-badge" in m.value for m in at.markdown)


def test_the_team_size_open_question_takes_a_number(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    team = next(
        b for b in at.button if b.key and b.key.startswith("oq_") and "engineers" in b.label
    )
    team.click().run()
    size = next(n for n in at.number_input if n.key and n.key.startswith("oqa_"))
    size.set_value(4)
    next(b for b in at.button if b.label == "Use this answer and re-plan").click().run()
    assert not at.exception and at.session_state["explicit"].team_size == 4


def test_corpus_markup_is_shown_as_text_never_as_markdown_or_html(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    assert not at.html  # the app never emits raw HTML elements
    snippets = [t.value for t in at.text if "<script>" in t.value]
    assert snippets and "onerror=" in snippets[0]
    for value in markdowns(at):
        assert "<script" not in value and "<img" not in value


def test_out_of_scope_is_said_plainly_with_what_is_covered(data_dir: Path) -> None:
    at = ask(start(), "How do I bake sourdough bread at home?")
    warnings = [w.value for w in at.warning]
    assert warnings and warnings[0].startswith("**Out of scope.**")
    assert "The knowledge base covers: availability, platform." in markdowns(at)
    assert cards(at) == []
    assert not [b for b in at.button if b.key and b.key.startswith("oq_")]


def test_the_profile_form_replans_and_shows_what_changed(
    data_dir: Path, downloads: dict[str, bytes]
) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION)
    before = cards(at)
    assert escape_markdown("Use a managed control plane") in before
    at.sidebar.multiselect(key="pf_hosting").set_value(["on-prem"])
    at.sidebar.selectbox(key="pf_availability").set_value("high")
    submit = next(b for b in at.sidebar.button if b.label == "Re-plan with this profile")
    submit.click().run()
    assert not at.exception and not at.error
    assistants = [m for m in at.chat_message if m.name == "assistant"]
    assert len(assistants) == 2
    replanned = assistants[1]
    note = escape_markdown("Re-planned with the facts you set")
    assert any(note in c.value for c in replanned.caption)
    changes = next(m.value for m in replanned.markdown if m.value.startswith("**What changed**"))
    assert "- Added: Run three etcd members" in changes
    assert "- Removed: Use a managed control plane" in changes
    after = [m.value[6:] for m in replanned.markdown if m.value.startswith("##### ")]
    assert after != before and "Run three etcd members" in after
    # The edited profile is what the session keeps and what the form shows.
    assert at.session_state["explicit"].hosting == ["on-prem"]
    assert at.sidebar.multiselect(key="pf_hosting").value == ["on-prem"]
    # The plan holds the re-planned answer only.
    plan = downloads["kubeplan-plan.md"].decode()
    assert "(`availability.ui-etcd-three-members`)" in plan
    assert "(`platform.ui-managed-control-plane`)" not in plan
    assert plan.count("### Question ") == 1 and "| Hosting | on-prem |" in plan
    # Feedback on the re-planned answer keeps the profile it was asked with.
    at.feedback[0].set_value(0).run()  # the superseded answer has no thumbs
    [entry] = FeedbackStore(data_dir / "feedback.db").list()
    assert entry.profile is not None and entry.profile.hosting == ["on-prem"]
    rated = [r.decision_id for r in entry.answer.recommendations]
    assert "availability.ui-etcd-three-members" in rated  # the re-planned answer was rated


def test_the_form_is_filled_from_the_conversation(data_dir: Path) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS with a small team of 3 engineers.")
    assert at.sidebar.multiselect(key="pf_hosting").value == ["aws"]
    assert at.sidebar.number_input(key="pf_team_size").value == 3


def test_sidebar_top_k_and_topic_filter_shape_the_answer(data_dir: Path) -> None:
    at = start()
    at.sidebar.selectbox(key="topic").set_value("platform").run()
    ask(at, ETCD_QUESTION)
    ids = [c.value for c in at.caption if c.value.startswith(("availability\\.", "platform\\."))]
    assert ids and all(i.startswith("platform\\.") for i in ids)
    at.sidebar.selectbox(key="topic").set_value("all topics").run()
    at.sidebar.slider(key="top_k").set_value(1).run()
    ask(at, ETCD_QUESTION)
    last = at.session_state["messages"][-1]["answer"]
    assert len(last.sources) == 1


def test_llm_backend_streams_and_renders_cards(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEPLAN_LLM_MODEL", "fake:auto")  # the chain's offline chat model
    at = start()
    assert at.sidebar.radio(key="backend").options == ["grounded", "llm"]
    at.sidebar.radio(key="backend").set_value("llm").run()
    assert any("fake\\:auto" in c.value for c in at.sidebar.caption)
    ask(at, ETCD_QUESTION)
    assert not at.error, [e.value for e in at.error]
    assert cards(at)
    assert any(m.value.startswith("**Citations:** [\\[") for m in at.markdown)
    assert at.session_state["messages"][-1]["answer"].backend == "llm"


def test_llm_backend_without_its_key_says_why(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEPLAN_LLM_MODEL", "openai:gpt-4o-mini")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = start()
    assert at.sidebar.radio(key="backend").options == ["grounded"]
    assert any("OPENAI\\_API\\_KEY" in c.value for c in at.sidebar.caption)


def test_an_unusable_llm_reply_is_shown_as_not_enough_evidence(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEPLAN_LLM_MODEL", "fake:broken")  # replies with text that is not JSON
    at = start()
    at.sidebar.radio(key="backend").set_value("llm").run()
    ask(at, ETCD_QUESTION)
    assert not at.error
    assert at.info and at.info[0].value.startswith("**Not enough evidence.**")
    assert "The knowledge base covers: availability, platform." in markdowns(at)
    assert cards(at) == [] and at.expander  # the nearest passages are still listed


def test_a_backend_error_is_a_message_with_the_fix(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    if importlib.util.find_spec("langchain_ollama") is not None:
        pytest.skip("langchain-ollama is installed: this test needs a provider package missing")
    monkeypatch.setenv("KUBEPLAN_LLM_MODEL", "ollama:llama3.1")
    at = start()
    at.sidebar.radio(key="backend").set_value("llm").run()
    ask(at, ETCD_QUESTION)
    assert at.error and "langchain\\_ollama" in at.error[0].value
    assert at.info and at.info[0].value.startswith("Fix: ")
    assert at.session_state["messages"] == []  # a failed question is not part of the history


# --------------------------------------------------------------------------- feedback


def test_feedback_lands_in_sqlite_and_a_thumbs_down_becomes_a_draft_case(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    comment = next(t for t in at.text_input if t.key and t.key.startswith("fbc_"))
    comment.input("needs more about zones")
    at.feedback[0].set_value(1).run()
    assert not at.exception
    store = FeedbackStore(data_dir / "feedback.db")
    [entry] = store.list()
    assert entry.rating == "up" and entry.question == ETCD_QUESTION
    assert entry.backend == "grounded" and entry.comment == "needs more about zones"
    assert entry.answer.recommendations  # the answer JSON is stored whole
    assert any("Feedback saved" in c.value for c in at.caption)

    at.feedback[0].set_value(0).run()
    [entry] = store.list()
    assert entry.rating == "down"

    at.sidebar.radio(key="page").set_value("Feedback").run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1
    [draft] = [c.value for c in at.code]
    assert "# Draft eval case from feedback #1 (thumbs down" in draft
    [case] = parse_cases(yaml.safe_load(draft))
    assert case.question == ETCD_QUESTION and case.tags[0] == "feedback"


def test_feedback_that_cannot_be_stored_is_a_message(data_dir: Path) -> None:
    (data_dir / "feedback.db").mkdir()  # sqlite cannot open a folder
    at = ask(start(), ETCD_QUESTION)
    at.feedback[0].set_value(1).run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Feedback not saved: ")
    assert "feedback.db" in at.error[0].value.replace("\\", "")


def test_feedback_page_without_feedback_says_so(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Feedback").run()
    assert [i.value for i in at.info] == [
        "No feedback yet. Rate answers in the chat with the thumbs."
    ]


# --------------------------------------------------------------------------- exports


def test_plan_and_decision_record_downloads_hold_the_answer(
    data_dir: Path, downloads: dict[str, bytes]
) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS with a small team.")
    assert not at.error
    plan = downloads["kubeplan-plan.md"].decode()
    assert "# Kubernetes platform plan" in plan
    assert "| Hosting | aws |" in plan
    assert "(`platform.ui-managed-control-plane`)" in plan
    assert "- **Sources:** [1]" in plan
    assert "1. **Managed control planes for the UI tests** — Use a managed control plane" in plan
    adr = downloads["adr-platform-ui-managed-control-plane.md"].decode()
    assert adr.startswith("---\nstatus: proposed\n")
    assert "# Use a managed control plane" in adr
    assert "## Decision Outcome" in adr and "## Considered Options" in adr
    assert CONTROL_PLANE_QUESTION in adr
    labels = [d.label for d in at.download_button]
    assert "Download the plan (Markdown)" in labels and "Decision record (MADR)" in labels


# --------------------------------------------------------------------------- knowledge base


def test_knowledge_base_page_shows_stats_catalogue_and_ingests_uploads(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "2" and metrics["Topics"] == "2"
    assert int(metrics["Chunks"]) >= 2
    assert any(c.value.startswith("Last ingest: 20") for c in at.caption)
    at.selectbox(key="kb_topic_all").set_value("platform").run()
    assert [e.label for e in at.expander] == [
        escape_markdown("Use a managed control plane (platform.ui-managed-control-plane)")
    ]
    at.file_uploader(key="ingest_upload").upload(
        "notes.md", b"# Our notes\n\nWe keep etcd backups in a separate account.\n", "text/markdown"
    ).run()
    at.button(key="ingest_upload_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Ingested 1 of 1 files" in s.value for s in at.success)
    assert (data_dir / "uploads" / COLLECTION / "notes.md").is_file()
    # The stats shown are those after the ingest, and no server path is shown.
    assert {m.label: m.value for m in at.metric}["Documents"] == "3"
    shown = " ".join(c.value for c in at.caption).replace("\\", "")
    assert str(data_dir) not in shown and "chroma" not in shown


def test_uploads_over_the_size_limit_are_skipped(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEPLAN_MAX_FILE_BYTES", "50")
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    assert any("at most 1 MB per file" in c.value for c in at.caption)
    uploader = at.file_uploader(key="ingest_upload")
    uploader.upload("big.md", b"# Big\n\n" + b"etcd " * 40, "text/markdown")
    uploader.upload("small.md", b"# Small\n\netcd\n", "text/markdown")
    at.run()
    at.button(key="ingest_upload_go").click().run()
    assert not at.exception
    assert any(escape_markdown("Skipped big.md") in w.value for w in at.warning)
    uploaded = data_dir / "uploads" / COLLECTION
    assert not (uploaded / "big.md").exists() and (uploaded / "small.md").is_file()


def test_passage_search_follows_the_sidebar_topic_filter(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    at.text_input(key="kb_query").input("etcd members control plane")
    next(b for b in at.button if b.label == "Search").click().run()
    assert not at.error
    everything = [e.label for e in at.expander if e.label.startswith("\\[")]
    assert any("Control\\-plane sizing" in label for label in everything)
    at.sidebar.selectbox(key="topic").set_value("platform").run()
    at.text_input(key="kb_query").input("etcd members control plane")
    next(b for b in at.button if b.label == "Search").click().run()
    hits = [e.label for e in at.expander if e.label.startswith("\\[")]
    assert hits and all("Managed control planes" in label for label in hits)
    # The catalogue opens on the filtered topic too.
    assert at.selectbox(key="kb_topic_platform").value == "platform"


def test_ingesting_a_missing_folder_is_an_error_message_not_a_trace(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    at.text_input(key="ingest_path").input(str(data_dir / "uploads" / "nope"))
    submit = next(b for b in at.button if b.label == "Ingest folder")
    submit.click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "does not exist" in at.error[0].value
    assert at.info and at.info[0].value.startswith("Fix: ")


def test_folders_outside_the_ingest_roots_are_refused(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defect: the page ingested /etc and a credentials.txt from any readable folder."""
    secrets = tmp_path / "home"
    secrets.mkdir()
    (secrets / "credentials.txt").write_text("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n")
    (data_dir / "uploads").mkdir(exist_ok=True)
    (data_dir / "uploads" / "escape").symlink_to(secrets)
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    for folder in ("/etc", str(secrets), str(data_dir / "uploads" / "escape")):
        at.text_input(key="ingest_path").input(folder)
        next(b for b in at.button if b.label == "Ingest folder").click().run()
        assert not at.exception
        assert at.error and "ingest roots" in at.error[0].value, folder
        assert escape_markdown("KUBEPLAN_INGEST_ROOTS") in at.info[0].value
        assert not at.success
    # An operator can allow a folder.
    monkeypatch.setenv("KUBEPLAN_INGEST_ROOTS", str(secrets))
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    at.text_input(key="ingest_path").input(str(secrets))
    next(b for b in at.button if b.label == "Ingest folder").click().run()
    assert not at.error and any("Ingested 1 of 1" in s.value for s in at.success)


def test_the_knowledge_base_page_shows_no_server_path(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    shown = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert not any(str(data_dir) in text or str(data_dir.parent) in text for text in shown)


def test_a_too_long_question_is_a_message(data_dir: Path) -> None:
    at = start()
    at.chat_input(key="question").set_value("etcd members " * 400).run()
    assert not at.exception
    # The UI package checks the length itself and refuses with a warning (not the API's
    # InputError shown as an error): nothing is asked.
    assert at.warning and "the limit is 2,000" in at.warning[0].value.replace("\\", "")
    assert at.session_state["messages"] == []


def test_sign_in_is_required_only_when_auth_is_configured(data_dir: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "kubeplan",
        "client_secret": "s",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    }
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.chat_input and not at.sidebar.radio
    # Without [auth]: the app as before.
    assert start().chat_input


# --------------------------------------------------------------------------- errors


def test_an_empty_collection_is_explained(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPLAN_COLLECTION", "nothing-here")
    at = ask(start(), ETCD_QUESTION)
    assert at.error and "nothing-here" in at.error[0].value.replace("\\", "")
    assert at.info and "ingest" in at.info[0].value


def test_invalid_settings_are_a_message(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPLAN_TOP_K", "many")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert at.error and "KUBEPLAN\\_TOP\\_K" in at.error[0].value


def test_llm_backend_without_a_model_says_why(data_dir: Path) -> None:
    at = start()
    assert at.sidebar.radio(key="backend").options == ["grounded"]
    assert any("KUBEPLAN\\_LLM\\_MODEL" in c.value for c in at.sidebar.caption)
    assert "Collections in the store: uitest" in [c.value for c in at.sidebar.caption]


# --------------------------------------------------------------------------- real corpus


@pytest.mark.slow
def test_real_corpus_answer_has_cards_and_citations(
    corpus_assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = corpus_assistant.settings
    _point_app_at(
        monkeypatch,
        data_dir=settings.data_dir,
        corpus_dir=settings.corpus_dir,
        collection=settings.collection,
    )
    monkeypatch.setenv("KUBEPLAN_EMBEDDER", settings.embedder)
    # The card vectors are embedded once per data dir (then read): done here, outside the
    # app's first run (its warm-up), whose AppTest time limit a busy machine can exceed.
    corpus_assistant.card_index()
    # Feedback would land in the shared data dir: this test only reads.
    at = ask(start(), "How many etcd members should we run for a self-managed control plane?")
    assert not at.error
    known = {escape_markdown(d.id) for d in corpus_assistant.catalogue()}
    shown_ids = [c.value for c in at.caption if c.value in known]
    assert len(shown_ids) == len(cards(at)) >= 1  # one catalogue decision per card
    citations = [m.value for m in at.markdown if m.value.startswith("**Citations:**")]
    assert len(citations) == len(shown_ids) and all("\\[" in c for c in citations)
    assert at.expander and at.text  # the sources panel with its snippets


# --------------------------------------------------------------------------- planning workspace


def test_a_follow_up_that_states_a_new_fact_changes_the_plan(data_dir: Path) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS.")
    assert escape_markdown("Use a managed control plane") in cards(at)
    assert at.session_state["explicit"].is_empty()  # inferred facts are not sent back
    assert at.session_state["inferred"].hosting == ["aws"]
    ask(at, "and if we have to run on-prem?")
    last = at.session_state["messages"][-1]
    assert last["answer"].profile.hosting == ["on-prem"]
    assert last["profile"] is None  # nothing explicit was sent
    latest = [m for m in at.chat_message if m.name == "assistant"][-1]
    changes = next(m.value for m in latest.markdown if m.value.startswith("**What changed**"))
    assert "Hosting changed from aws to on\\-prem" in changes
    assert "- Removed: Use a managed control plane" in changes
    assert any("Hosting\\: on\\-prem \\(inferred\\)" in m.value for m in at.markdown)


def test_a_follow_up_fact_wins_over_a_fact_set_earlier(data_dir: Path) -> None:
    at = start()
    at.sidebar.multiselect(key="pf_hosting").set_value(["aws"])
    next(b for b in at.sidebar.button if b.label == "Re-plan with this profile").click().run()
    assert at.session_state["explicit"].hosting == ["aws"]
    ask(at, CONTROL_PLANE_QUESTION + " We have to run on-prem.")
    assert at.session_state["messages"][-1]["answer"].profile.hosting == ["on-prem"]
    assert at.session_state["explicit"].hosting == []


def test_an_off_topic_question_after_facts_were_inferred_is_out_of_scope(data_dir: Path) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS with a team of 3.")
    ask(at, "How do I bake sourdough bread at home?")
    assert at.session_state["messages"][-1]["answer"].status == "out_of_scope"
    assert at.warning and at.warning[0].value.startswith("**Out of scope.**")


def test_confirming_an_inferred_chip_makes_it_explicit_and_removing_clears_it(
    data_dir: Path,
) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS.")
    at.button(key="chip_ok_hosting").click().run()
    assert at.session_state["explicit"].hosting == ["aws"]
    assert any("blue-badge[Hosting\\: aws]" in m.value for m in at.markdown)
    at.button(key="chip_rm_hosting").click().run()
    assert not at.exception
    assert at.session_state["explicit"].hosting == []


def test_the_profile_form_survives_a_page_switch(data_dir: Path) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION)
    at.sidebar.selectbox(key="pf_availability").set_value("high")
    next(b for b in at.sidebar.button if b.label == "Re-plan with this profile").click().run()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    at.sidebar.radio(key="page").set_value("Chat").run()
    assert at.sidebar.selectbox(key="pf_availability").value == "high"
    next(b for b in at.sidebar.button if b.label == "Re-plan with this profile").click().run()
    assert not at.exception
    note = escape_markdown("Re-planned with the facts you set: Availability target: high")
    assert any(note in c.value for c in at.caption)


def test_an_uploaded_document_is_cited_in_the_next_chat_answer(data_dir: Path) -> None:
    at = start()
    at.sidebar.radio(key="page").set_value("Knowledge base").run()
    at.file_uploader(key="ingest_upload").upload(
        "backup-notes.md",
        b"# Our etcd backup notes\n\nWe snapshot etcd members every hour into a separate "
        b"account and test restores monthly.\n",
        "text/markdown",
    ).run()
    at.button(key="ingest_upload_go").click().run()
    assert not at.error
    at.sidebar.radio(key="page").set_value("Chat").run()
    ask(at, "How many etcd members should we run and how do we snapshot etcd?")
    shown = markdowns(at)
    assert any(m.startswith("**From your documents**") for m in shown)
    labels = [e.label for e in at.expander]
    assert any("Our etcd backup notes" in label for label in labels)
    others = at.session_state["messages"][-1]["others"]
    assert others and others[0].path == "backup-notes.md"


def test_a_question_over_the_limit_is_refused_with_a_message(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = ask(start(), "etcd " * 500)
    assert at.warning and "the limit is 2,000" in at.warning[0].value.replace("\\", "")
    assert at.session_state["messages"] == []


def test_examples_new_chat_and_markdown_copy(data_dir: Path) -> None:
    at = start()
    examples = [b for b in at.button if b.key and b.key.startswith("example_")]
    assert len(examples) >= 3
    examples[1].click().run()  # "How many etcd members should we run?"
    assert not at.exception
    assert len(at.session_state["messages"]) == 2
    assert not [b for b in at.button if b.key and b.key.startswith("example_")]
    [code] = [c.value for c in at.code]
    assert code.startswith("# Kubernetes platform plan") and "etcd" in code
    at.sidebar.button(key="new_chat").click().run()
    assert at.session_state["messages"] == []
    assert [b for b in at.button if b.key and b.key.startswith("example_")]


def test_a_replan_never_re_asks_an_out_of_scope_question(data_dir: Path) -> None:
    at = ask(start(), "How do I bake sourdough bread at home?")
    at.sidebar.selectbox(key="pf_availability").set_value("high")
    next(b for b in at.sidebar.button if b.label == "Re-plan with this profile").click().run()
    assert not at.exception
    assert [m["answer"].status for m in at.session_state["messages"][1::2]] == ["out_of_scope"]
    assert at.session_state["explicit"].availability == "high"


def test_removing_an_inferred_chip_drops_the_fact_and_replans_without_it(
    data_dir: Path,
) -> None:
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS with a team of 3.")
    assert cards(at)[0] == escape_markdown("Use a managed control plane")
    assert any("Hosting\\: aws \\(inferred\\)" in m.value for m in at.markdown)
    at.button(key="chip_rm_hosting").click().run()
    assert not at.exception and not at.error
    assert at.session_state["retracted"].hosting == ["aws"]
    assert at.session_state["explicit"].is_empty()
    # The chip is gone (the team size stays); the fact is shown as ruled out.
    assert not any("Hosting\\: aws \\(inferred\\)" in m.value for m in at.markdown)
    assert any("Platform team size\\: 3 \\(inferred\\)" in m.value for m in at.markdown)
    assert any("Hosting\\: not aws" in m.value for m in at.markdown)
    items = at.session_state["messages"]
    assert len(items) == 3  # the question, the old answer (superseded), the re-plan
    replanned = items[-1]["answer"]
    assert replanned.profile.hosting == [] and replanned.profile.team_size == 3
    # Without AWS the single control-plane node leads and the managed plane loses its fit.
    assert cards(at)[0] == escape_markdown("Run a single control-plane node")
    latest = [m for m in at.chat_message if m.name == "assistant"][-1]
    changes = next(m.value for m in latest.markdown if m.value.startswith("**What changed**"))
    assert "aws no longer applies" in changes
    assert "Run a single control\\-plane node" in changes and "confidence" in changes
    assert any("without the facts you removed" in c.value for c in latest.caption)
    # A later question that names a hosting again ends the retraction.
    ask(at, CONTROL_PLANE_QUESTION + " We are on AWS after all.")
    assert at.session_state["retracted"].is_empty()
    assert at.session_state["messages"][-1]["answer"].profile.hosting == ["aws"]


def test_the_summary_and_each_card_are_drawn_as_they_stream_in(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream cut after its first card leaves the summary and that card on the page:
    they were drawn as they arrived, not after the whole answer."""
    from assistant.errors import BackendUnavailableError

    real = Assistant.ask_stream
    seen: list[str] = []

    def cut_after_first_card(self: Assistant, *args: Any, **kw: Any) -> Iterator[Any]:
        for event in real(self, *args, **kw):
            seen.append(event.kind)
            yield event
            if event.kind == "card":
                raise BackendUnavailableError("the stream stopped mid-answer.", "try again.")

    monkeypatch.setattr(Assistant, "ask_stream", cut_after_first_card)
    at = ask(start(), CONTROL_PLANE_QUESTION + " We are on AWS.")
    assert seen == ["retrieved", "summary", "card"]
    assert cards(at) == [escape_markdown("Use a managed control plane")]
    assert any("2 recommendations" in c.value for c in at.caption)
    assert at.error and "stopped mid\\-answer" in at.error[0].value
    assert at.session_state["messages"] == []
    monkeypatch.setattr(Assistant, "ask_stream", real)
    # Streamed in full, the answer is drawn once: no card twice, every widget in place.
    ask(at, CONTROL_PLANE_QUESTION + " We are on AWS.")
    answer = at.session_state["messages"][-1]["answer"]
    assert cards(at) == [escape_markdown(r.title) for r in answer.recommendations]
    assert len(cards(at)) == 2


def test_earlier_answers_fold_and_unfold(data_dir: Path) -> None:
    at = ask(start(), ETCD_QUESTION)
    ask(at, CONTROL_PLANE_QUESTION + " We are on AWS.")
    assert len([b for b in at.button if b.key and b.key.startswith("expand_")]) == 0
    ask(at, "Should we run a single control-plane node for our lab?")
    first = at.session_state["messages"][1]
    # The third answer folds the first at once: its summary and titles, no cards or widgets.
    [unfold] = [b for b in at.button if b.key and b.key.startswith("expand_")]
    assert unfold.key == f"expand_{first['key']}"
    assert not [b for b in at.button if b.key and b.key.startswith(f"oq_{first['key']}")]
    shown = markdowns(at)
    assert any(m.startswith("Recommendations: ") and "etcd" in m for m in shown)
    unfold.click().run()
    assert not at.exception
    assert not [b for b in at.button if b.key and b.key.startswith("expand_")]
    assert len(cards(at)) == sum(
        len(m["answer"].recommendations) for m in at.session_state["messages"][1::2]
    )
