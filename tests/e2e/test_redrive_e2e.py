"""Dead-letter redrive through real ``ems serve`` processes: a task killed with kill -9 in the
middle of its move resumes after a restart and moves every message exactly once (both stores),
and on PostgreSQL a task whose node dies is taken over by another node."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests import pg
from tests.e2e.server import EmsServer

TOTAL = 60


def dead_letter_queue(url: str) -> tuple[str, str]:
    """A dead-letter queue (some queue dead-letters into it) holding TOTAL messages, and a
    destination queue: their ids."""
    dlq = httpx.post(f"{url}/ems/queue").json()["queue_id"]
    httpx.post(
        f"{url}/ems/queue", json={"dead_letter": {"queue_id": dlq, "max_receives": 3}}
    ).raise_for_status()
    for start in range(0, TOTAL, 20):
        batch = [{"body": f"m{i}"} for i in range(start, start + 20)]
        httpx.post(f"{url}/ems/queue/{dlq}/messages", json={"messages": batch}).raise_for_status()
    destination = httpx.post(f"{url}/ems/queue").json()["queue_id"]
    return dlq, destination


def task(url: str, dlq: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/ems/queue/{dlq}/redrive")
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    return document


def wait_until(url: str, dlq: str, done: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = task(url, dlq)
        if done(current):
            return current
        assert time.monotonic() < deadline, current
        time.sleep(0.1)


def drain(url: str, queue_id: str) -> Counter[str]:
    bodies: Counter[str] = Counter()
    for _ in range(TOTAL):  # bounded: ten at a time, TOTAL at most
        got = httpx.get(
            f"{url}/ems/queue/{queue_id}/message?max_messages=10&visibility_timeout=600"
        ).json()["messages"]
        if not got:
            break
        bodies.update(m["body"] for m in got)
    return bodies


def assert_moved_exactly_once(url: str, dlq: str, destination: str) -> None:
    moved = drain(url, destination)
    assert moved == Counter(f"m{i}" for i in range(TOTAL)), moved
    assert drain(url, dlq) == Counter()


def start_slow_task(url: str, dlq: str, destination: str, rate: int = 20) -> None:
    started = httpx.post(
        f"{url}/ems/queue/{dlq}/redrive",
        json={"destination_queue_id": destination, "max_messages_per_second": rate},
    )
    assert started.status_code == 201, started.text
    assert started.json()["messages_to_move"] == TOTAL


def test_a_task_killed_mid_move_resumes_after_a_restart(any_server: EmsServer) -> None:
    url = any_server.url
    dlq, destination = dead_letter_queue(url)
    start_slow_task(url, dlq, destination)
    midway = wait_until(url, dlq, lambda t: t["messages_moved"] > 0)
    assert midway["status"] == "RUNNING"
    any_server.kill9()
    any_server.start()
    # SQLite: the lease ends at open (one process owns the file); PostgreSQL: when it expires
    done = wait_until(url, dlq, lambda t: t["status"] != "RUNNING")
    assert (done["status"], done["messages_moved"]) == ("COMPLETED", TOTAL)
    assert_moved_exactly_once(url, dlq, destination)


def test_another_node_takes_over_a_task_whose_node_died(tmp_path: Path) -> None:
    shared = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=shared).start()
    b = EmsServer(tmp_path / "b", database=shared)
    try:
        dlq, destination = dead_letter_queue(a.url)
        # 12 s of moving at 5 a second: A is still at it when B is up
        start_slow_task(a.url, dlq, destination, rate=5)
        # node A alone is up: A holds the task
        wait_until(a.url, dlq, lambda t: t["messages_moved"] > 0)
        b.start()
        a.kill9()
        partial = task(b.url, dlq)["messages_moved"]
        assert partial < TOTAL
        # B claims the task when A's lease ends (10 s), and finishes it
        done = wait_until(b.url, dlq, lambda t: t["status"] != "RUNNING", timeout=40)
        assert (done["status"], done["messages_moved"]) == ("COMPLETED", TOTAL)
        assert_moved_exactly_once(b.url, dlq, destination)
    finally:
        a.stop()
        b.stop()


def test_the_redrive_resource(any_server: EmsServer) -> None:
    url = any_server.url
    dlq, destination = dead_letter_queue(url)
    assert httpx.get(f"{url}/ems/queue/{dlq}/redrive").status_code == 404
    plain = httpx.post(f"{url}/ems/queue").json()["queue_id"]
    refused = httpx.post(f"{url}/ems/queue/{plain}/redrive")
    assert refused.status_code == 400
    assert refused.json()["type"] == "/ems/problems/not-a-dead-letter-queue"
    bad = httpx.post(f"{url}/ems/queue/{dlq}/redrive", json={"max_messages_per_second": 0})
    assert bad.status_code == 400
    start_slow_task(url, dlq, destination)
    again = httpx.post(f"{url}/ems/queue/{dlq}/redrive")
    assert again.status_code == 409
    assert again.json()["type"] == "/ems/problems/move-task-running"
    shown = task(url, dlq)
    assert shown["destination_queue_ref"].startswith("queue:")
    assert destination not in str(shown)  # another queue's id is never shown
    cancelled = httpx.delete(f"{url}/ems/queue/{dlq}/redrive")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLING"
    done = wait_until(url, dlq, lambda t: t["status"] == "CANCELLED")
    assert done["finished_at"] is not None
    assert httpx.delete(f"{url}/ems/queue/{dlq}/redrive").status_code == 404
