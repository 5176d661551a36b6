"""The per-file time limit, enforced from any thread: files are prepared in a worker process.

A timer signal only interrupts the main thread, and nothing interrupts another thread
stuck in C code (a regular expression backtracking on a hostile line, a parser spinning
on a broken PDF). The Streamlit UI ingests in its script thread, so there a hostile file
used to hang the ingest, and the write lock with it, forever. ``FilePreparer`` runs
``prepare.prepare_file`` (parse, credential scan, chunking) in a worker process instead
and waits for the answer at most ``timeout`` seconds; a worker that overruns is killed,
which stops any code, the file is reported as failed with the limit and the setting that
sets it, and the next file gets a fresh worker.

Workers are started with ``python -m assistant.ingest.parse_worker`` (a clean interpreter that
imports only the parsing modules, whatever program hosts kubeplan) and talk over a socket
pair. Idle workers are kept per process (``_IDLE``) and reused by the next ingest, so a
process that ingests again and again (the UI, a writer) starts one once.

Work runs in the calling thread instead when there is no limit (``timeout`` 0), when the
embedder's token counter cannot be sent to another process (not picklable), or when no
worker starts; the limit is then enforced by ``loading.time_limit`` (a signal in the main
thread, a check when the work ends elsewhere).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assistant.ingest.loading import FoundFile, ParseTimeout, time_limit
from assistant.ingest.prepare import (
    Outcome,
    Prepared,
    PrepareSpec,
    Rejected,
    prepare_file,
    timeout_reason,
)

#: Seconds a new worker may take to import the parsers and say it is ready; one that
#: takes longer is given up and the run prepares files in its own thread.
STARTUP_SECONDS = 60.0
#: Idle workers a process keeps for its next ingest.
MAX_IDLE = 2


class _NotDelivered(Exception):
    """A job could not be sent: the worker was gone before it started."""


class _Worker:
    """One worker process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        # The worker imports the same assistant package as this process, wherever the
        # host program put it on sys.path (Streamlit adds the app's folder).
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH", "")) if p
        )
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant.ingest.parse_worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # stdout may be a --json report
            )
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        self.owner = os.getpid()
        self.ready = False
        self.spec: bytes | None = None

    def wait_ready(self, seconds: float) -> bool:
        if self.ready:
            return True
        try:
            if self.conn.poll(seconds) and self.conn.recv() == "ready":
                self.ready = True
        except (EOFError, OSError):
            pass
        return self.ready

    def run(self, spec: bytes, job: tuple[str, str, bytes, str], seconds: float) -> Any:
        """The worker's reply to ``job``, or ``None`` when it took longer than ``seconds``.

        Raises ``_NotDelivered`` when the job could not be sent (the worker had already
        gone), ``EOFError`` or ``OSError`` when the worker died while working on it.
        """
        try:
            self.conn.send(("job", spec if spec != self.spec else None, *job))
        except (OSError, ValueError) as exc:
            raise _NotDelivered from exc
        self.spec = spec
        if not self.conn.poll(seconds):
            return None
        return self.conn.recv()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        self.conn.close()

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not within a second."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        try:
            self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()


_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()


def _acquire() -> _Worker:
    with _IDLE_LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.owner == os.getpid() and worker.alive():
                return worker
    return _Worker()


def _release(worker: _Worker) -> None:
    if worker.owner != os.getpid():
        return  # inherited through fork: the worker belongs to the parent
    with _IDLE_LOCK:
        if worker.alive() and len(_IDLE) < MAX_IDLE:
            _IDLE.append(worker)
            return
    worker.close()


def _forget_after_fork() -> None:
    # A forked child must not talk to its parent's workers: it starts its own.
    _IDLE.clear()


def close_idle_workers() -> None:
    """Stop the idle workers this process keeps (they also stop when it exits)."""
    with _IDLE_LOCK:
        workers = [w for w in _IDLE if w.owner == os.getpid()]
        _IDLE.clear()
    for worker in workers:
        worker.close()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_idle_workers)


class FilePreparer:
    """Prepares the files of one ingest run within ``timeout`` seconds each (0: no limit).

    Not thread-safe: one run, one preparer. ``close`` hands its worker back for reuse.
    """

    def __init__(self, spec: PrepareSpec, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout
        self._worker: _Worker | None = None
        self._busy = False
        self._blob: bytes | None = None
        if timeout > 0:
            try:
                self._blob = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                self._blob = None  # e.g. a token counter defined in a function

    @property
    def in_worker(self) -> bool:
        """Whether files go to a worker process (else they are prepared in this thread)."""
        return self._blob is not None

    def prepare(self, found: FoundFile, data: bytes, label: str, *, retry: bool = True) -> Outcome:
        if self._blob is None:
            return self._prepare_here(found, data, label)
        try:
            worker = self._worker or _acquire()
        except OSError:
            self._give_up_workers()  # no process can be started here
            return self._prepare_here(found, data, label)
        self._worker = worker
        if not worker.wait_ready(STARTUP_SECONDS):
            self._give_up_workers()
            return self._prepare_here(found, data, label)
        job = (found.root.as_posix(), found.rel, data, label)
        self._busy = True  # until the reply is read: a worker with a reply due is not reused
        try:
            reply = worker.run(self._blob, job, self.timeout)
            self._busy = False
        except _NotDelivered:
            self._discard()  # gone while idle: the file is not to blame
            if retry:
                return self.prepare(found, data, label, retry=False)
            self._give_up_workers()
            return self._prepare_here(found, data, label)
        except Exception:  # EOF, a broken socket, a garbled reply: the worker is gone
            reply = ("died",)
        if reply is None:
            # Over the limit: only killing the process stops whatever it is stuck in.
            self._discard()
            return Rejected(timeout_reason(self.timeout))
        kind = reply[0] if isinstance(reply, tuple) and reply else "died"
        if kind == "ok":
            return Prepared(*reply[1:])
        if kind == "rejected":
            return Rejected(reply[1], skipped=reply[2])
        if kind == "spec-error":
            # The worker cannot load what this run needs (say, the embedder's module).
            self._give_up_workers()
            return self._prepare_here(found, data, label)
        try:
            code: int | None = worker.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._discard()
        return Rejected(
            f"the parse worker stopped (exit status {code}) while reading the file: the "
            "file crashes the parser"
        )

    def close(self) -> None:
        if self._busy:
            self._discard()  # interrupted mid-file (Ctrl-C): its reply must not reach the next run
        if self._worker is not None:
            worker, self._worker = self._worker, None
            _release(worker)

    def _discard(self) -> None:
        self._busy = False
        if self._worker is not None:
            worker, self._worker = self._worker, None
            worker.kill()

    def _give_up_workers(self) -> None:
        self._discard()
        self._blob = None

    def _prepare_here(self, found: FoundFile, data: bytes, label: str) -> Outcome:
        try:
            with time_limit(self.timeout):
                return prepare_file(found, data, label, self.spec)
        except ParseTimeout:
            return Rejected(timeout_reason(self.timeout))


# --------------------------------------------------------------------------- the worker


def _serve(conn: Connection) -> None:
    conn.send("ready")
    spec: PrepareSpec | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        _, blob, root, rel, data, label = message
        if blob is not None:
            try:
                spec = pickle.loads(blob)
            except Exception as exc:
                spec = None
                conn.send(("spec-error", f"{type(exc).__name__}: {exc}"))
                continue
        if spec is None:
            conn.send(("spec-error", "no settings received"))
            continue
        outcome = prepare_file(FoundFile(Path(root), rel), data, label, spec)
        if isinstance(outcome, Prepared):
            conn.send(("ok", outcome.doc, outcome.chunks, outcome.redactions))
        else:
            conn.send(("rejected", outcome.reason, outcome.skipped))


def _warm() -> None:
    """Import what every file needs before saying ready, so the first file's time limit
    is not spent importing (the HTML and PDF parsers still load on first use)."""
    from assistant.ingest.redaction import redact_text

    redact_text("warm up the credential scanner")


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent decides, then closes the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[0]))
    _warm()
    _serve(conn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
