"""Long-poll wake-up: hold --polls idle long polls open (one queue each), then send one message
to a random one of those queues and time until its poller holds it; repeat.

Latency runs from the start of the send request (so it includes the send's own commit) to the
poller's response; ``after_ack`` runs from the send's acknowledgement. Raises this process's
open-file limit to what it needs (the server's is the server's business: ``ulimit -n``).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from typing import Any

from ems.bench import api
from ems.bench.context import TRANSPORT_ERRORS, Context, request
from ems.bench.http import RawConnection
from ems.bench.options import Options
from ems.bench.scenario import Plan
from ems.bench.stats import Tally

PAUSE = 0.01  # between wake-ups, so the woken poller re-arms
OPENING = 256  # connections being opened at once
WAIT = 20


def raise_file_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``wanted`` (at most the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class LongPoll:
    unit = "wake-ups"

    async def setup(self, options: Options) -> Plan:
        print(f"creating {options.polls:,} queues ...", file=sys.stderr)
        started = time.monotonic()
        queue_ids = await api.create_queues(options.target, options.polls)
        return {
            "queue_ids": queue_ids,
            "queues_created_per_s": round(len(queue_ids) / (time.monotonic() - started)),
        }

    async def teardown(self, options: Options, plan: Plan) -> None:
        await api.delete_queues(options.target, plan["queue_ids"])

    async def run(self, context: Context, plan: Plan) -> None:
        options = context.options
        limit = raise_file_limit(options.polls + 256)
        if limit < options.polls + 64:
            context.tally.notes.append(
                f"open-file limit {limit} is below --polls {options.polls}: expect errors"
            )
        queues = [context.path(f"/ems/queue/{q}") for q in plan["queue_ids"]]
        await _Run(context, queues).run()

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        # wake-ups per second of the trials, not of the whole run (opening the polls is slow)
        seconds = tally.extra_latencies_ms.pop("trial_seconds", [0.0])[0]
        return {
            "polls": options.polls,
            "queues_created_per_s": plan["queues_created_per_s"],
            "throughput_per_s": round(tally.operations / seconds, 1) if seconds else 0.0,
        }


class _Run:
    def __init__(self, context: Context, queues: list[str]) -> None:
        self.context = context
        self.queues = queues
        self.woken: dict[int, asyncio.Future[float]] = {}
        self.opening = asyncio.Semaphore(OPENING)
        self.opened = 0
        self.all_open = asyncio.Event()

    async def run(self) -> None:
        pollers = [asyncio.create_task(self.poll(i)) for i in range(len(self.queues))]
        sender = self.context.connection()
        try:
            await self.all_open.wait()
            await asyncio.sleep(1.0 + len(self.queues) / 5000)  # every poll reaches the server
            self.context.budget.start()
            trials_began = time.monotonic()
            while self.context.budget.take(1):
                await self.wake_one(sender)
                await asyncio.sleep(PAUSE)
            self.context.tally.sample("trial_seconds", time.monotonic() - trials_began)
        finally:
            await sender.close()
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)

    async def wake_one(self, sender: RawConnection) -> None:
        context = self.context
        index = random.randrange(len(self.queues))  # noqa: S311 - not for security
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.woken[index] = future
        started = time.perf_counter()
        path = f"{self.queues[index]}/message"
        answer = await request(context, sender, "POST", path, b"wake up")
        acknowledged = time.perf_counter()
        if answer is None or answer[0] != 201:
            self.woken.pop(index, None)
            if answer is not None:
                context.tally.error(f"send: HTTP {answer[0]}")
            return
        try:
            arrived = await asyncio.wait_for(future, 10)
        except TimeoutError:
            context.tally.error("not woken within 10 s")
            return
        context.tally.sample("after_ack", (arrived - acknowledged) * 1000)
        context.done(1, (arrived - started) * 1000)

    def _count_open(self) -> None:
        self.opened += 1
        if self.opened == len(self.queues):
            self.all_open.set()

    async def poll(self, index: int) -> None:
        context = self.context
        connection = context.connection()
        queue = self.queues[index]
        poll = f"{queue}/message?wait_seconds={WAIT}&visibility_timeout=600"
        try:
            async with self.opening:
                await connection.connect()
        except TRANSPORT_ERRORS as error:
            context.tally.error(f"connect: {type(error).__name__}")
        self._count_open()
        try:
            while True:
                answer = await request(context, connection, "GET", poll)
                now = time.perf_counter()
                if answer is None:
                    await asyncio.sleep(0.1)
                    continue
                if answer[0] != 200:
                    context.tally.error(f"poll: HTTP {answer[0]}")
                    continue
                messages = json.loads(answer[1])["messages"]
                if not messages:
                    continue  # the wait ended empty: poll again
                if (future := self.woken.pop(index, None)) is not None and not future.done():
                    future.set_result(now)
                handle = messages[0]["receipt_handle"]
                await request(context, connection, "DELETE", f"{queue}/message/{handle}")
        finally:
            await connection.close()
