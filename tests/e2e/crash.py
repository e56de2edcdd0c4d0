"""A producer interrupted by kill -9 mid-way, then retrying everything: the crash tests' shared step."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.e2e.server import EmsServer


def crash_and_retry(server: EmsServer, send_all: Callable[[httpx.Client], None]) -> None:
    """Run ``send_all`` until a kill -9 stops it (after a few answers, so mid-way); restart;
    run it again to the end."""
    answered: list[int] = []
    interrupted = threading.Event()

    def producer() -> None:
        hooks = {"response": [lambda response: answered.append(response.status_code)]}
        with httpx.Client(base_url=server.url, timeout=5, event_hooks=hooks) as client:
            try:
                send_all(client)
            except httpx.HTTPError:
                interrupted.set()  # the server died under it

    thread = threading.Thread(target=producer)
    thread.start()
    deadline = time.monotonic() + 20
    while len(answered) < 5 and time.monotonic() < deadline:  # bounded
        time.sleep(0.005)
    server.kill9()
    thread.join(timeout=30)
    assert interrupted.is_set(), "the producer finished before the kill: nothing was tested"
    server.start()
    with httpx.Client(base_url=server.url, timeout=15) as client:
        send_all(client)  # the producer retries everything, ids and all
