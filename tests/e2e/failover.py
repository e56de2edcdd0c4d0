"""Failover drills: PostgreSQL's primary fails under load and its synchronous standby takes over.

Everything is real and throwaway: a primary and a synchronous standby made with initdb,
pg_basebackup and pg_ctl on free loopback ports (never the shared server), set up as
docs/deploy.md says, and two ``ems serve`` nodes on the multi-host URL written exactly as there.
Producers send unique bodies to both nodes and record every acknowledgement, resending a body
until it is acknowledged (as a client that retries does); consumers drain from both nodes;
``/readyz`` of each node is polled all along. A drill breaks the primary, promotes the standby a
little later (as a failover manager would, once it has decided) and records what clients saw.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ems.bench.http import RawConnection
from tests.e2e.server import EmsServer
from tests.pg import Cluster

PRODUCERS_PER_NODE = 3
# longer than any answer EMS may take (twice its 5 s database timeout): a client that gave up
# sooner would cause duplicates of its own making
REQUEST_TIMEOUT = 15.0
# between breaking the primary and promoting the standby, as a failover manager deciding
DECISION_SECONDS = 2.0
# the bar: both nodes serving again this soon after the promotion, without a restart
RECOVERY_BAR = 15.0


@contextmanager
def replicated_pair() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and a synchronous standby, as docs/deploy.md sets them up; destroyed after
    (destroy kills every process, so a frozen primary never outlives the drill)."""
    primary = Cluster().start()
    standby: Cluster | None = None
    try:
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.sql("SELECT pg_reload_conf()")
        standby = primary.standby().start()
        # pg_basebackup copied synchronous_standby_names: promoted, the standby would wait
        # for a standby of its own and every commit would hang (docs/deploy.md)
        standby.sql("ALTER SYSTEM RESET synchronous_standby_names")
        standby.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while primary.sql("SELECT sync_state FROM pg_stat_replication") != "sync":
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.05)
        yield primary, standby
    finally:
        primary.destroy()
        if standby is not None:
            standby.destroy()


def multi_host_url(first: Cluster, second: Cluster) -> str:
    """The URL of docs/deploy.md (``postgresql://ems@db1:5432,db2:5432/ems?target_session_attrs
    =read-write``) for these two clusters."""
    return (
        f"postgresql://postgres@127.0.0.1:{first.port},127.0.0.1:{second.port}/postgres"
        "?target_session_attrs=read-write"
    )


@dataclass
class Report:
    """What clients saw during one drill; times are ``time.monotonic()``."""

    broken_at: float = 0.0
    promoted_at: float = 0.0
    # (started, finished, node, status); status "transport" for a connection that failed
    sends: list[tuple[float, float, int, int | str]] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    # bodies that had at least one attempt that failed: the only ones a retry can duplicate
    retried: set[str] = field(default_factory=set)
    # (message id, body) of every message handed to a consumer
    received: list[tuple[str, str]] = field(default_factory=list)
    ready: list[tuple[float, int, int | str]] = field(default_factory=list)
    # after the drill: seconds from a send's 201 on one node to a long poll woken on the other
    wakes: list[float] = field(default_factory=list)

    def lost(self) -> set[str]:
        return self.acked - {body for _, body in self.received}

    def duplicates(self) -> dict[str, int]:
        """Bodies stored more than once (under different message ids), and how many times."""
        ids: dict[str, set[str]] = {}
        for message_id, body in self.received:
            ids.setdefault(body, set()).add(message_id)
        return {body: len(found) for body, found in ids.items() if len(found) > 1}

    def redeliveries(self) -> int:
        """Messages received again under the same id (a delete lost in the outage)."""
        counts = Counter(message_id for message_id, _ in self.received)
        return sum(count - 1 for count in counts.values())

    def back_after(self, node: int) -> float | None:
        """Seconds from the promotion to the node's first acknowledged send after its last
        failed one (or after the promotion, had none failed)."""
        answers = [(done, s == 201) for _, done, n, s in self.sends if n == node]
        return self._after(answers)

    def ready_after(self, node: int) -> float | None:
        """Seconds from the promotion to the node's /readyz answering 200 for good."""
        return self._after([(t, s == 200) for t, n, s in self.ready if n == node])

    def _after(self, answers: list[tuple[float, bool]]) -> float | None:
        last_failure = max((t for t, ok in answers if not ok), default=0.0)
        since = max(last_failure, self.promoted_at)
        good = [t for t, ok in answers if ok and t > since]
        return min(good) - self.promoted_at if good else None

    def gap(self, node: int) -> float:
        """How long the node's clients saw failures: from the first failed answer to the
        first success after the last one."""
        answers = sorted((done, s == 201) for _, done, n, s in self.sends if n == node)
        failures = [t for t, ok in answers if not ok]
        if not failures:
            return 0.0
        started = min(start for start, done, n, s in self.sends if n == node and s != 201)
        after = [t for t, ok in answers if ok and t > failures[-1]]
        return (min(after) if after else failures[-1]) - started

    def not_ready_during_gap(self, node: int) -> bool:
        return any(
            n == node and s == 503 and self.broken_at <= t <= self.promoted_at + RECOVERY_BAR
            for t, n, s in self.ready
        )

    def summary(self) -> str:
        statuses = Counter(s for _, _, _, s in self.sends)
        gap = [done - start for start, done, _, s in self.sends if s != 201]
        return (
            f"{len(self.acked)} sends acknowledged, {dict(statuses)}; "
            f"nodes back {[_round(self.back_after(n)) for n in (0, 1)]} s and ready "
            f"{[_round(self.ready_after(n)) for n in (0, 1)]} s after the promotion; "
            f"clients saw failures for {[_round(self.gap(n)) for n in (0, 1)]} s; "
            f"slowest failed answer {max(gap, default=0):.2f} s; "
            f"lost {len(self.lost())}, stored twice {len(self.duplicates())}, "
            f"redelivered {self.redeliveries()}; cross-node wake-ups after it "
            f"{[round(w * 1000, 1) for w in self.wakes]} ms"
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Drill:
    """Two nodes under load while ``break_primary`` runs and the standby is promoted."""

    def __init__(self, nodes: list[EmsServer], standby: Cluster) -> None:
        self.nodes = nodes
        self.standby = standby
        self.report = Report()
        queue = httpx.post(f"{nodes[0].url}/ems/queue", timeout=10).json()["queue_id"]
        self.path = f"/ems/queue/{queue}/message"
        self._producing = True
        self._consuming = True

    def run(self, break_primary: Callable[[], None]) -> Report:
        asyncio.run(self._run(break_primary))
        return self.report

    async def _run(self, break_primary: Callable[[], None]) -> None:
        report = self.report
        workers = [
            asyncio.create_task(self._produce(n, w))
            for n in range(len(self.nodes))
            for w in range(PRODUCERS_PER_NODE)
        ]
        helpers = [asyncio.create_task(self._consume(n)) for n in range(len(self.nodes))]
        helpers += [asyncio.create_task(self._watch_readiness(n)) for n in range(len(self.nodes))]
        try:
            await asyncio.sleep(2)  # steady load first
            report.broken_at = time.monotonic()
            await asyncio.to_thread(break_primary)
            await asyncio.sleep(DECISION_SECONDS)
            await asyncio.to_thread(self.standby.promote)
            report.promoted_at = time.monotonic()
            await _until(
                lambda: all(
                    report.back_after(n) is not None and report.ready_after(n) is not None
                    for n in range(len(self.nodes))
                ),
                RECOVERY_BAR + 5,
            )
            await asyncio.sleep(1)  # a little load on the new primary
            self._producing = False
            await asyncio.gather(*workers)
            # redeliveries (a delete lost in the outage) wait out their visibility timeout
            await _until(lambda: not report.lost(), 30)
            self._consuming = False
            await asyncio.gather(*helpers)
            report.wakes = [await self._wake_across() for _ in range(5)]
        finally:
            self._producing = self._consuming = False
            await asyncio.gather(*workers, *helpers, return_exceptions=True)

    async def _produce(self, node: int, worker: int) -> None:
        report = self.report
        connection = RawConnection("127.0.0.1", self.nodes[node].port)
        sent = 0
        try:
            while self._producing:
                body = f"{node}-{worker}-{sent}"
                sent += 1
                while True:  # until acknowledged, as a client that retries does
                    status = await _request(connection, "POST", self.path, body.encode())
                    report.sends.append((status[1], time.monotonic(), node, status[0]))
                    if status[0] == 201:
                        report.acked.add(body)
                        break
                    report.retried.add(body)
                    if status[0] == "transport":
                        await connection.close()
                    if self._stopped():
                        break  # never acknowledged: not expected to be found
                    await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def _wake_across(self) -> float:
        """A long poll parked on the second node, woken by a send on the first: through the
        LISTEN connections, which must have found the new primary too (the fallback re-check
        would take up to 2 s)."""
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
            # a queue of its own: the drill's may still hold redeliveries
            created = await client.post(f"{self.nodes[0].url}/ems/queue")
            queue = f"/ems/queue/{created.json()['queue_id']}"
            poll = asyncio.create_task(
                client.get(f"{self.nodes[1].url}{queue}/message?wait_seconds=10")
            )
            await asyncio.sleep(0.2)  # parked
            sent = await client.post(f"{self.nodes[0].url}{queue}/message", content=b"wake")
            acknowledged = time.monotonic()
            assert sent.status_code == 201
            woken = await poll
            assert [m["body"] for m in woken.json()["messages"]] == ["wake"]
            return time.monotonic() - acknowledged

    def _stopped(self) -> bool:
        return not self._producing

    async def _consume(self, node: int) -> None:
        connection = RawConnection("127.0.0.1", self.nodes[node].port)
        query = "?max_messages=10&visibility_timeout=5&wait_seconds=1"
        try:
            while self._consuming:
                (status, _), body = await _request_body(connection, "GET", self.path + query)
                if status != 200:
                    await connection.close()
                    await asyncio.sleep(0.1)
                    continue
                messages = json.loads(body)["messages"]
                for message in messages:
                    self.report.received.append((message["message_id"], message["body"]))
                if messages:
                    handles = [m["receipt_handle"] for m in messages]
                    delete = self.path + "s/delete"
                    document = json.dumps({"receipt_handles": handles}).encode()
                    await _request_body(connection, "POST", delete, document)
        finally:
            await connection.close()

    async def _watch_readiness(self, node: int) -> None:
        connection = RawConnection("127.0.0.1", self.nodes[node].port)
        try:
            while self._consuming:
                status, _ = await _request(connection, "GET", "/readyz")
                self.report.ready.append((time.monotonic(), node, status))
                if status == "transport":
                    await connection.close()
                await asyncio.sleep(0.1)
        finally:
            await connection.close()


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)


async def _request(
    connection: RawConnection, method: str, path: str, body: bytes = b""
) -> tuple[int | str, float]:
    """(status or "transport", when the request started)."""
    (status, started), _ = await _request_body(connection, method, path, body)
    return status, started


async def _request_body(
    connection: RawConnection, method: str, path: str, body: bytes = b""
) -> tuple[tuple[int | str, float], bytes]:
    started = time.monotonic()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, answer = await connection.request(method, path, body)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        with suppress(Exception):
            await connection.close()
        return ("transport", started), b""
    return (status, started), answer


def node_pair(tmp_path: Path, url: str) -> list[EmsServer]:
    """Two ``ems serve`` nodes on ``url``, started; stop them with :func:`stop_all`."""
    nodes = [EmsServer(tmp_path / name, database=(url, "ems")) for name in ("a", "b")]
    started: list[EmsServer] = []
    try:
        for node in nodes:
            started.append(node.start())
    except BaseException:
        stop_all(started)
        raise
    return nodes


def stop_all(nodes: list[EmsServer]) -> None:
    for node in nodes:
        node.stop()
