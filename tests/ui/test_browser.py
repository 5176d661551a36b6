"""The app in a real browser: ``streamlit run app.py`` driven by Debian's headless Chromium.

Uses selenium with ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``make browser-deps``
installs them); nothing is downloaded. The data dir holds the UI fixture corpus, whose etcd
passage carries a ``<script>`` and an ``<img onerror=...>``: they must show as text and run
nothing.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from assistant.chain.api import Assistant
from assistant.chain.feedback import FeedbackStore
from assistant.config import Settings

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent.parent
UI_CORPUS = Path(__file__).parent.parent / "fixtures" / "ui" / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
COLLECTION = "uitest"
QUESTION = "How many etcd members should we run?"
#: Screenshots the tests save for people to look at (git-ignored).
SHOTS = Path(__file__).parent.parent / ".screenshots"
T = TypeVar("T")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the element or server is not there yet
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}" + (f": {last}" if last else ""))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on a free loopback port over a freshly ingested data dir."""
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, embedder="fake", corpus_dir=UI_CORPUS, collection=COLLECTION, _env_file=None
    )
    assert Assistant(settings).ingest([UI_CORPUS]).files_ingested == 2
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEPLAN_")}
    env.update(
        KUBEPLAN_DATA_DIR=str(data),
        KUBEPLAN_EMBEDDER="fake",
        KUBEPLAN_CORPUS_DIR=str(UI_CORPUS),
        KUBEPLAN_COLLECTION=COLLECTION,
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
    )
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            "--server.fileWatcherType=none",
            "--client.toolbarMode=viewer",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            if proc.poll() is not None:  # pytest.fail is not an Exception: it ends the wait
                pytest.fail("streamlit exited: " + (tmp_path / "streamlit.log").read_text())
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                return bool(resp.status == 200)

        _wait_for(healthy, "the streamlit server", timeout=90)

        # The model and store load once at server start, before any browser connects.
        def warmed() -> bool:
            with urllib.request.urlopen(f"{url}/kubeplan/ready", timeout=2) as resp:
                return bool(resp.status == 200 and json.load(resp) == {"ready": True})

        _wait_for(warmed, "the start-up warm-up", timeout=90)
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make browser-deps` (Debian chromium packages)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,2400",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    # SE_OFFLINE keeps Selenium Manager from looking for a driver online.
    monkeypatch.setenv("SE_OFFLINE", "true")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_chat_cards_citations_feedback_and_inert_markup(
    server: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, data = server
    browser.get(url)
    box = _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"),
        "the chat input",
    )
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    cards = _wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "[class*='st-key-card_']"),
        "recommendation cards",
    )
    first = cards[0].text
    assert "Run three etcd members" in first
    assert "What to do:" in first and "Why:" in first and "confidence" in first
    assert "Citations: [1]" in first

    # The sources panel: open the cited etcd passage.
    def first_source() -> Any:
        summaries = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stExpander'] summary")
        found = [e for e in summaries if "[1] Control-plane sizing" in e.text]
        if not found:
            raise AssertionError([e.text for e in summaries])
        return found[0]

    expander = _wait_for(first_source, "the first source")
    expander.click()
    page = _wait_for(
        lambda: (t := browser.find_element(By.TAG_NAME, "body").text) and "<script>" in t and t,
        "the snippet's markup shown as text",
    )
    assert '<img src="x" onerror="window.__xss = \'img\'">' in page
    assert browser.execute_script("return window.__xss === undefined")
    assert not browser.execute_script(
        "return [...document.querySelectorAll('script')]"
        ".some(s => s.textContent.includes('__xss'))"
        " || [...document.querySelectorAll('img')].some(i => i.hasAttribute('onerror'))"
    )

    thumbs_up = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stFeedbackButton']")
    assert len(thumbs_up) >= 2
    thumbs_up[0].click()
    store = FeedbackStore(data / "feedback.db")
    entries = _wait_for(lambda: store.list(), "the feedback row in SQLite", timeout=30)
    assert entries[0].rating == "up" and entries[0].question == QUESTION
    _wait_for(
        lambda: "Feedback saved" in browser.find_element(By.TAG_NAME, "body").text,
        "the saved-feedback note",
    )
    _wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid='stFeedbackButtonActive']"),
        "the thumb shown as chosen",
    )

    _shot(browser, "01-chat-cards-feedback")


def _shot(browser: Any, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def _body(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    text: str = browser.find_element(By.TAG_NAME, "body").text
    return text


def _ask(browser: Any, question: str, done: str, timeout: float = 60.0) -> str:
    """Type ``question`` into the chat and wait until the page shows ``done``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"),
        "the chat input",
    )
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    return str(_wait_for(lambda: (t := _body(browser)) and done in t and t, repr(done), timeout))


def _click_text(browser: Any, selector: str, text: str, what: str) -> None:
    """Click the first element matching ``selector`` whose text contains ``text``."""
    from selenium.webdriver.common.by import By

    def find() -> Any:
        found = [e for e in browser.find_elements(By.CSS_SELECTOR, selector) if text in e.text]
        return found[0] if found else None

    element = _wait_for(find, what)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _page(browser: Any, name: str) -> None:
    from selenium.webdriver.common.by import By

    header = {"Chat": "Plan your Kubernetes platform"}.get(name, name)
    _click_text(browser, "[data-testid='stSidebar'] label", name, f"the {name} page")
    _wait_for(
        lambda: any(header in h.text for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2")),
        f"the {name} page",
    )


def test_planning_workspace_follow_ups_scope_form_uploads_and_open_questions(
    server: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = server
    browser.get(url)
    _wait_for(lambda: "Try one of these" in _body(browser), "the example questions")
    _shot(browser, "02-empty-chat-examples")

    # A follow-up that states a new fact changes the facts and the plan, and says so.
    page = _ask(
        browser,
        "Should we run our own control plane? We are on AWS.",
        "Use a managed control plane",
    )
    # The chips above the chat are drawn by the rerun that follows the answer.
    _wait_for(lambda: "Hosting: aws (inferred)" in _body(browser) or None, "the aws fact chip")
    page = _ask(browser, "and if we have to run on-prem?", "Hosting changed from aws to on-prem")
    assert "Removed: Use a managed control plane" in page
    # The chips above the chat are redrawn by the rerun that follows the answer.
    _wait_for(lambda: "Hosting: on-prem (inferred)" in _body(browser), "the on-prem fact chip")
    _shot(browser, "03-follow-up-changes-hosting")

    # Off-topic after the conversation set facts: still out of scope.
    page = _ask(browser, "How do I bake sourdough bread at home?", "Out of scope.")
    _shot(browser, "04-off-topic-after-facts")

    # The form keeps a value the user set across a page switch, and re-plans with it.
    size = _wait_for(
        lambda: browser.find_element(
            By.CSS_SELECTOR, "[data-testid='stSidebar'] [data-testid='stNumberInput'] input"
        ),
        "the team size input",
    )
    size.send_keys("\b\b\b\b7")
    # Submitting before the keystrokes reached the widget would send the old value.
    _wait_for(lambda: size.get_attribute("value") == "7" or None, "the typed team size")
    # A number input commits its value on blur; leaving it first keeps a slow machine's click
    # from submitting the form before the value reached the form's state.
    size.send_keys(Keys.TAB)
    _click_text(browser, "[data-testid='stSidebar'] button", "Re-plan with this profile", "submit")
    # The last question is out of scope: the facts are kept, that question is not re-asked.
    _wait_for(lambda: "Facts saved" in _body(browser), "the facts-saved note")
    assert "Re-planned" not in _body(browser)
    # The submitted value reached the server before the page switch that should keep it.
    _wait_for(
        lambda: "Platform team size: 7" in _body(browser) or None, "the submitted team size chip"
    )
    _page(browser, "Knowledge base")
    _page(browser, "Chat")
    size = _wait_for(
        lambda: browser.find_element(
            By.CSS_SELECTOR, "[data-testid='stSidebar'] [data-testid='stNumberInput'] input"
        ),
        "the team size input after the page switch",
    )
    # The sidebar is redrawn with the kept value by the run after the switch.
    _wait_for(
        lambda: browser.find_element(
            By.CSS_SELECTOR, "[data-testid='stSidebar'] [data-testid='stNumberInput'] input"
        ).get_attribute("value") == "7" or None,
        "the kept team size after the page switch",
    )
    # The chips are drawn by the script run after the page switch, not with the sidebar.
    _wait_for(lambda: "Platform team size: 7" in _body(browser) or None, "the team size chip")
    chips = browser.find_element(By.CSS_SELECTOR, "[class*='st-key-chips']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", chips)
    _shot(browser, "05-form-kept-after-page-switch")

    # An uploaded document is cited in the next chat answer.
    _page(browser, "Knowledge base")
    notes = tmp_path / "backup-notes.md"
    notes.write_text(
        "# Our etcd backup notes\n\nWe snapshot etcd members every hour into a separate "
        "account and test restores monthly.\n"
    )
    upload = _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-testid='stFileUploader'] input"),
        "the file uploader",
    )
    upload.send_keys(str(notes))
    _wait_for(lambda: "backup-notes.md" in _body(browser), "the uploaded file listed")
    _click_text(browser, "button", "Ingest uploaded files", "the ingest button")
    _wait_for(lambda: "Ingested 1 of 1 files" in _body(browser), "the ingest report", timeout=180.0)
    _shot(browser, "06-upload-ingested")
    _page(browser, "Chat")
    _click_text(browser, "[data-testid='stSidebar'] button", "New chat", "new chat")
    _wait_for(lambda: "Try one of these" in _body(browser), "an empty chat")
    _ask(
        browser,
        "How many etcd members should we run and how do we snapshot etcd?",
        "From your documents",
    )
    _click_text(
        browser, "[data-testid='stExpander'] summary", "Our etcd backup notes", "the upload"
    )
    _wait_for(lambda: "test restores monthly" in _body(browser), "the uploaded passage")
    _shot(browser, "07-upload-cited-in-answer")

    # An open question is answered by the user: a choice, then a re-plan with it.
    _click_text(browser, "button", "What availability target", "the open question")
    _click_text(browser, "[data-testid='stRadio'] label", "high", "the answer 'high'")
    _click_text(browser, "button", "Use this answer and re-plan", "the answer button")
    _wait_for(
        lambda: "Availability target: high" in _body(browser)
        and "Re-planned with the facts you set" in _body(browser),
        "the plan re-planned with the answer",
    )
    _shot(browser, "08-open-question-answered")


def test_removing_an_inferred_fact_replans_without_it(
    server: tuple[str, Path], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    url, _ = server
    browser.get(url)
    page = _ask(
        browser,
        "Should we run our own control plane? We are on AWS with a team of 3.",
        "Use a managed control plane",
    )
    page = str(_wait_for(
        lambda: (t := _body(browser)) and "Hosting: aws (inferred)" in t and t, "the aws fact chip"
    ))
    # On AWS the managed plane leads; the single node is at most a low-confidence aside.
    assert "Use a managed control plane\nhigh confidence" in page
    assert "Run a single control-plane node\nhigh confidence" not in page
    _wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, "[class*='st-key-chip_rm_hosting'] button"),
        "the remove button of the hosting chip",
    ).click()
    # The chips are filled at the end of the run that draws the re-plan, so the page is
    # read once both are there (the re-plan text alone can arrive with the old chips).
    page = str(_wait_for(
        lambda: (t := _body(browser))
        and "Re-planned without the facts you removed" in t
        and "Hosting: not aws" in t
        and t,
        "the re-plan without the removed fact and its ruled-out chip",
    ))
    assert "Hosting: aws (inferred)" not in page
    assert "Hosting: not aws (inferred)" not in page  # the user said so
    assert "Platform team size: 3 (inferred)" in page
    # Without AWS the single control-plane node leads the re-plan (its confidence label
    # follows the fitted cut points, so the order is what is checked), and the change
    # list names it.
    replan = page[page.index("Re-planned without the facts you removed"):]
    single = replan.find("Run a single control-plane node\n")
    managed = replan.find("Use a managed control plane\n")
    assert single != -1 and (managed == -1 or single < managed), replan
    assert re.search(r"(Added|Different): Run a single control-plane node", page)
    assert "Superseded by the re-plan below" in page
    chips = browser.find_element(By.CSS_SELECTOR, "[class*='st-key-chips']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", chips)
    _shot(browser, "09-inferred-fact-removed-replanned")
