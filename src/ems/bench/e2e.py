"""End to end, open loop: producers send at a fixed rate, long-polling consumers receive.

Each message carries the time it was *meant* to be sent (a schedule of rate per second, fixed
before the run). Latency runs from that time to a consumer holding the message, so a producer
stalled behind a slow request makes the messages waiting behind it late, as they would be for a
real producer, instead of quietly sending fewer of them (no coordinated omission). The clock
is CLOCK_MONOTONIC, which every process on the machine shares. Each worker process has a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from ems.bench import api
from ems.bench.context import Context, connections, request
from ems.bench.http import RawConnection
from ems.bench.options import Options
from ems.bench.scenario import Plan
from ems.bench.stats import Tally

DEFAULT_RATE = 1000.0
DRAIN_SECONDS = 10.0  # after the last send, how long consumers may take to receive the rest


def rate_of(options: Options) -> float:
    return options.rate if options.rate is not None else DEFAULT_RATE


class EndToEnd:
    unit = "msgs"

    async def setup(self, options: Options) -> Plan:
        return {"queue_ids": await api.create_queues(options.target, options.processes)}

    async def teardown(self, options: Options, plan: Plan) -> None:
        await api.delete_queues(options.target, plan["queue_ids"])

    async def run(self, context: Context, plan: Plan) -> None:
        queue = context.path(f"/ems/queue/{plan['queue_ids'][plan['worker']]}")
        await _Run(context, queue).run()

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        sent = int(sum(tally.extra_latencies_ms.pop("sent", [])))
        rate = rate_of(options)
        # the sending window: the whole run less the drain at its end
        window = options.duration if options.count is None else sent / rate
        achieved = sent / window if window else 0.0
        figures: dict[str, Any] = {
            "target_rate_per_s": rate,
            "sent": sent,
            "received": tally.operations,
            "sent_per_s": round(achieved, 1),
            "throughput_per_s": round(tally.operations / window, 1) if window else 0.0,
        }
        if options.count is None and achieved < 0.95 * rate:
            tally.notes.append(
                f"sent {achieved:,.0f}/s, short of the {rate:,.0f}/s asked: the server (or the "
                "client) could not keep up; latency counts the wait"
            )
        return figures


class _Run:
    """One worker's run: a schedule, producers working through it, consumers."""

    def __init__(self, context: Context, queue: str) -> None:
        self.context = context
        self.options = context.options
        self.queue = queue
        self.rate = rate_of(self.options) / self.options.processes
        self.due: asyncio.Queue[float | None] = asyncio.Queue()
        self.sent: set[str] = set()
        self.received: set[str] = set()
        self.all_sent = asyncio.Event()
        self.all_received = asyncio.Event()

    async def run(self) -> None:
        context, options = self.context, self.options
        async with (
            connections(context, options.connections) as producers,
            connections(context, options.consumers) as consumers,
        ):
            consuming = [asyncio.create_task(self.consume(c)) for c in consumers]
            await asyncio.gather(self.schedule(), *(self.produce(c) for c in producers))
            self.all_sent.set()
            if not self.received >= self.sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_received.wait(), DRAIN_SECONDS)
            for task in consuming:
                task.cancel()
            await asyncio.gather(*consuming, return_exceptions=True)
        if missing := len(self.sent - self.received):
            context.tally.errors["sent but not received"] += missing
        context.tally.sample("sent", float(len(self.sent)))

    async def schedule(self) -> None:
        """Put each message's intended send time on the queue when it comes due."""
        self.context.budget.start()
        start = time.monotonic()
        n = 0
        while self.context.budget.take(1):
            intended = start + n / self.rate
            n += 1
            if (delay := intended - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            self.due.put_nowait(intended)
        for _ in range(self.options.connections):
            self.due.put_nowait(None)

    async def produce(self, connection: RawConnection) -> None:
        context = self.context
        while (intended := await self.due.get()) is not None:
            body = f"{intended:.6f} ".encode().ljust(self.options.size, b"x")
            answer = await request(context, connection, "POST", f"{self.queue}/message", body)
            if answer is None:
                continue
            if answer[0] != 201:
                context.tally.error(f"send: HTTP {answer[0]}")
                continue
            context.tally.sample("send_ack", (time.monotonic() - intended) * 1000)
            self.sent.add(json.loads(answer[1])["message_id"])

    async def consume(self, connection: RawConnection) -> None:
        context = self.context
        path = f"{self.queue}/message?max_messages=10&wait_seconds=20&visibility_timeout=60"
        while True:
            answer = await request(context, connection, "GET", path)
            now = time.monotonic()
            if answer is None or answer[0] != 200:
                if answer is not None:
                    context.tally.error(f"receive: HTTP {answer[0]}")
                continue
            messages = json.loads(answer[1])["messages"]
            if not messages:
                continue
            for message in messages:
                if message["message_id"] not in self.received:
                    self.received.add(message["message_id"])
                    intended = float(message["body"].split(" ", 1)[0])
                    context.done(1, (now - intended) * 1000)
            body = json.dumps({"receipt_handles": [m["receipt_handle"] for m in messages]})
            await request(
                context, connection, "POST", f"{self.queue}/messages/delete", body.encode()
            )
            if self.all_sent.is_set() and self.received >= self.sent:
                self.all_received.set()
