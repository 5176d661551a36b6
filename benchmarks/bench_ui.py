"""Chat UI latency a user feels, through a real browser (Debian's headless Chromium).

Run: ``.venv/bin/python -m benchmarks.bench_ui [--data-dir DIR] [--collection NAME]
[--rounds N] [--json]``. ``DIR`` must hold an ingested collection (default: ``.kubeplan``
and ``kubeplan``, which ``make app``/``make ingest`` fill); the real embedding model is used.

1. ``streamlit run app.py`` starts on a free loopback port (as ``make app`` runs it).
2. First answer: the browser opens the page (the first session loads the model, store and
   indexes once for the server process), types a question and waits until the answer is
   drawn (its feedback thumbs appear). Reported: page open -> chat input ready, and
   question sent -> answer drawn.
3. Warm: ``--rounds`` more questions in the same session; p50/p95 of question sent ->
   answer drawn.
4. Baselines, measured in the same run: ``Assistant.ask`` on the same questions in this
   process (warm), so the ratio is what the UI adds on top of the answer itself; and a rerun
   that asks nothing (confirming a fact chip), which is what redrawing the
   conversation costs in the browser.

Timings depend on the machine and on what else runs on it: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant import Assistant
from assistant.config import Settings

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FIRST = "How many etcd members should we run?"
QUESTIONS = [
    "Should we use EKS or run our own control plane with kubeadm? We are 4 engineers.",
    "We want to cut costs for stateless web services and nightly batch jobs.",
    "and if we have to run on-prem?",
    "Argo CD or Flux for GitOps?",
    "How do we keep secrets out of Git?",
    "What should we monitor and alert on for the control plane?",
]
T = TypeVar("T")


def _wait(check: Callable[[], T | None], what: str, timeout: float = 300.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception:  # not there yet
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_server(
    data_dir: Path, collection: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEPLAN_")}
    env.update(KUBEPLAN_DATA_DIR=str(data_dir), KUBEPLAN_COLLECTION=collection)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
            "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
            "--client.toolbarMode=viewer",
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise SystemExit("streamlit exited: " + log.read_text())
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return bool(resp.status == 200)

    _wait(healthy, "the streamlit server", 120)
    return proc, url


def _browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--no-first-run", "--window-size=1400,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def _answer_time(browser: Any, question: str) -> float:
    """Seconds from sending ``question`` to its answer being drawn (its thumbs appear)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def thumbs() -> int:
        return len(browser.find_elements(By.CSS_SELECTOR, "[data-testid='stFeedbackButton']"))

    def idle() -> bool:
        app = browser.find_element(By.CSS_SELECTOR, "[data-testid='stApp']")
        return bool(app.get_attribute("data-test-script-state") == "notRunning")

    _wait(idle, "the app to finish its run")  # input typed while the app runs is dropped
    before = thumbs()
    box = _wait(
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"),
        "the chat input",
    )
    box.send_keys(question)
    started = time.perf_counter()
    box.send_keys(Keys.ENTER)
    try:
        _wait(lambda: thumbs() > before and idle(), f"the answer to {question!r}")
    except SystemExit:
        shot = Path(tempfile.gettempdir()) / "bench_ui_timeout.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the page: {shot}", file=sys.stderr)
        raise
    return time.perf_counter() - started


def _rerun_time(browser: Any) -> float:
    """Seconds for a rerun that asks nothing (confirming an inferred fact chip; writes no
    data): what redrawing the conversation costs."""
    from selenium.webdriver.common.by import By

    app = browser.find_element(By.CSS_SELECTOR, "[data-testid='stApp']")
    chips = "[class*='st-key-chip_ok_'] button"
    button = _wait(lambda: browser.find_element(By.CSS_SELECTOR, chips), "an inferred fact chip")
    before = len(browser.find_elements(By.CSS_SELECTOR, chips))
    started = time.perf_counter()
    browser.execute_script("arguments[0].click();", button)  # it may be scrolled away
    _wait(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, chips)) < before
        and app.get_attribute("data-test-script-state") == "notRunning",
        "the rerun",
    )
    return time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--collection", default=None)
    parser.add_argument("--rounds", type=int, default=len(QUESTIONS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            raise SystemExit(f"{path} is missing: run `make browser-deps`.")
    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.collection:
        overrides["collection"] = args.collection
    settings = Settings(**overrides)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.rounds)]

    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _start_server(settings.data_dir.resolve(), settings.collection,
                                  Path(tmp) / "streamlit.log")
        browser = _browser(Path(tmp) / "chromium")
        try:
            opened = time.perf_counter()
            browser.get(url)
            _wait(
                lambda: browser.find_element(
                    By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"
                ),
                "the chat input",
            )
            ready = time.perf_counter() - opened
            first = _answer_time(browser, FIRST)
            warm = [_answer_time(browser, q) for q in questions]
            rerun = _rerun_time(browser)
        finally:
            browser.quit()
            proc.terminate()
            proc.wait(timeout=20)

    # Baseline: the same questions through the Python API, warm, in this process.
    assistant = Assistant(settings)
    assistant.ask(FIRST)
    api = []
    history: list[Any] = []
    from assistant import Turn

    for q in questions:
        started = time.perf_counter()
        answer = assistant.ask(q, history=history)
        api.append(time.perf_counter() - started)
        history += [Turn(role="user", content=q), Turn(role="assistant", content=answer.summary)]

    result = {
        "page_open_to_input_s": round(ready, 3),
        "first_answer_s": round(first, 3),
        "warm_answer_p50_s": round(statistics.median(warm), 3),
        "warm_answer_p95_s": round(_pct(warm, 0.95), 3),
        "api_ask_p50_s": round(statistics.median(api), 3),
        "page_rerun_s": round(rerun, 3),
        "ui_over_api_p50": round(statistics.median(warm) / statistics.median(api), 2),
        "first_over_warm": round(first / statistics.median(warm), 2),
        "rounds": len(warm),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"page open -> chat input ready      {result['page_open_to_input_s']:.2f} s")
    print(f"first answer (question -> drawn)   {result['first_answer_s']:.2f} s")
    print(f"warm answer p50 / p95              {result['warm_answer_p50_s']:.2f} / "
          f"{result['warm_answer_p95_s']:.2f} s ({len(warm)} questions)")
    print(f"baseline Assistant.ask p50         {result['api_ask_p50_s']:.2f} s")
    print(f"page rerun without a question      {result['page_rerun_s']:.2f} s")
    print(f"UI / API (warm p50)                {result['ui_over_api_p50']:.2f}x")
    print(f"first / warm answer                {result['first_over_warm']:.2f}x")


if __name__ == "__main__":
    main()
