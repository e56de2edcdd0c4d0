"""``ems bench fanout`` as a person runs it: a real process against a real server, stopped by
its bounds or by a signal, and the server left with nothing to push afterwards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import EmsServer

# timing: asserts wall-clock bounds, so never beside another such test (tests/conftest.py)
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

ADMIN = "fanout-bench-admin-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path_factory.mktemp("fanout") / "data", env={"EMS_ADMIN_TOKEN": ADMIN})
    server.start("--webhook-allow-private")
    yield server
    server.stop()


def bench(server: EmsServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ems", "bench", "fanout", "--url", server.url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def admin(server: EmsServer, what: str) -> list[object]:
    answer = httpx.get(
        f"{server.url}/ems/admin/{what}", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert answer.status_code == 200, answer.text
    items: list[object] = answer.json()[what]
    return items


def push_attempts(server: EmsServer) -> int:
    metrics = httpx.get(f"{server.url}/metrics").text
    return sum(
        int(float(n)) for n in re.findall(r"^ems_webhook_push_attempts_total\{.*\} (\S+)$",
                                          metrics, re.MULTILINE)
    )  # fmt: skip


def published(server: EmsServer) -> int:
    """Publishes the server accepted (its answers to them, by route)."""
    metrics = httpx.get(f"{server.url}/metrics").text
    pattern = (
        r'^ems_http_requests_total\{route="/ems/topic/\{id\}/message",method="POST",'
        r'status="201"\} (\S+)$'
    )
    found = re.search(pattern, metrics, re.MULTILINE)
    return int(float(found[1])) if found else 0


def assert_nothing_left(server: EmsServer) -> None:
    assert admin(server, "topics") == [], "the run deleted its topic"
    assert admin(server, "queues") == [], "the run deleted its queues"
    before = push_attempts(server)
    time.sleep(1.5)  # longer than the dispatcher's scan interval: a retry would show
    assert push_attempts(server) == before, "the server stopped pushing"


def test_the_run_is_bounded_and_accounts_for_every_push(server: EmsServer) -> None:
    started = time.monotonic()
    run = bench(server, "--duration", "2", "--drain", "1", "--queues", "2", "--webhooks", "5",
                "--connections", "16", "--json")  # fmt: skip
    out, err = run.communicate(timeout=120)
    took = time.monotonic() - started
    assert run.returncode == 0, err
    result = json.loads(out)
    expected = result["operations"] * 5
    assert result["pushes"] + result["pushes_not_arrived"] == expected
    if result["pushes_not_arrived"]:
        assert any("had not arrived 1 s after the last publish" in n for n in result["notes"])
    # 2 s of publishing and at most 1 s of waiting for pushes, plus setup, cleanup and a
    # generous margin for a loaded machine (it used to wait for every push, a minute and more)
    assert took < 2 + 1 + 25, f"took {took:.1f} s"
    assert_nothing_left(server)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_cleans_up(server: EmsServer, stop: signal.Signals) -> None:
    before = published(server)  # the module's other runs published on this server too
    run = bench(server, "--duration", "60", "--queues", "2", "--webhooks", "5",
                "--connections", "16")  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        # publishing, not still setting up: the subscriptions' confirmations are pushes too,
        # and a signal during setup ends the run before it says it is cleaning up
        while push_attempts(server) == 0 or published(server) == before:
            assert run.poll() is None, run.communicate()[1]
            assert time.monotonic() < deadline, "the run never started pushing"
            time.sleep(0.1)
        time.sleep(0.5)  # mid-run: publishing, pushes flowing
        run.send_signal(stop)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            # communicate, not wait: it closes the pipes, whose ResourceWarning would otherwise
            # fail whichever test the garbage collector happens to run in next
            run.communicate()
    assert run.returncode == 130, err
    assert "deleting what the run made" in err
    assert_nothing_left(server)
