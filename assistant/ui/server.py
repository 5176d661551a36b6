"""The server side of ``streamlit run app.py``: load the model and the store once per
server process at start-up, before (and while) the first browser connects.

``app.py`` hands :func:`lifespan` and :data:`ROUTES` to ``st.App`` when Streamlit imports it
as the server; each session's run of ``app.py`` draws the UI (``assistant.ui.main.run``).
``GET /kubeplan/ready`` answers 200 once the warm-up ended (503 before): a readiness probe
for a deployment, and what ``benchmarks/bench_ui.py`` waits for.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assistant.ui.common import warm_up

READY_PATH = "/kubeplan/ready"
_ready = threading.Event()


def _warm() -> None:
    try:
        warm_up()
    finally:
        _ready.set()  # also when it failed: the first question then loads what it needs


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start the warm-up in a thread: the server answers at once, and a session that asks
    before the warm-up ends waits on the same cache entry instead of loading it again."""
    threading.Thread(target=_warm, name="kubeplan-warm-up", daemon=True).start()
    yield


async def ready(request: Request) -> JSONResponse:
    done = _ready.is_set()
    return JSONResponse({"ready": done}, status_code=200 if done else 503)


ROUTES = [Route(READY_PATH, ready)]
