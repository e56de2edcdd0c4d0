"""Closed-loop scenarios: every connection sends its next request as soon as the last returns.

``send``: one message per request. ``send-batch``: --batch messages per request.
``receive``: receive --batch messages, then delete them (one DELETE each when --batch is 1, else
one batch delete), from a queue filled beforehand.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from ems.bench import api
from ems.bench.context import Context, connections, request
from ems.bench.http import RawConnection
from ems.bench.options import Options
from ems.bench.scenario import Plan
from ems.bench.stats import Tally


class _OneQueue:
    unit = "msgs"

    async def setup(self, options: Options) -> Plan:
        setup = api.Api(options.target)
        try:
            return {"queue_id": await setup.create_queue()}
        finally:
            await setup.close()

    async def teardown(self, options: Options, plan: Plan) -> None:
        await api.delete_queues(options.target, [plan["queue_id"]])

    async def run(self, context: Context, plan: Plan) -> None:
        queue = context.path(f"/ems/queue/{plan['queue_id']}")
        async with connections(context, context.options.connections) as opened:
            context.budget.start()
            await asyncio.gather(*(self.loop(context, queue, c) for c in opened))

    async def loop(self, context: Context, queue: str, connection: RawConnection) -> None:
        raise NotImplementedError

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        return {}


class Send(_OneQueue):
    async def loop(self, context: Context, queue: str, connection: RawConnection) -> None:
        body = b"x" * context.options.size
        while context.budget.take(1):
            started = time.perf_counter()
            answer = await request(context, connection, "POST", f"{queue}/message", body)
            if answer is None:
                continue
            if answer[0] == 201:
                context.done(1, (time.perf_counter() - started) * 1000)
            else:
                context.tally.error(f"HTTP {answer[0]}")


class SendBatch(_OneQueue):
    async def loop(self, context: Context, queue: str, connection: RawConnection) -> None:
        size, batch = context.options.size, context.options.batch
        bodies: dict[int, bytes] = {}
        while granted := context.budget.take(batch):
            if granted not in bodies:
                bodies[granted] = json.dumps(
                    {"messages": [{"body": "x" * size}] * granted}
                ).encode()
            started = time.perf_counter()
            answer = await request(
                context, connection, "POST", f"{queue}/messages", bodies[granted]
            )
            if answer is None:
                continue
            if answer[0] == 201:
                context.done(granted, (time.perf_counter() - started) * 1000)
            else:
                context.tally.error(f"HTTP {answer[0]}")


class Receive(_OneQueue):
    """Latency is one receive plus its delete(s): the time a consumer spends per batch."""

    async def setup(self, options: Options) -> Plan:
        plan = await super().setup(options)
        prefill = options.prefill
        if prefill is None:
            prefill = options.count if options.count is not None else int(30_000 * options.duration)
        print(f"filling the queue with {prefill:,} messages ...", file=sys.stderr)
        started = time.monotonic()
        await api.fill(options.target, plan["queue_id"], prefill, options.size)
        plan["prefill"] = prefill
        plan["prefill_msgs_per_s"] = round(prefill / (time.monotonic() - started))
        return plan

    async def loop(self, context: Context, queue: str, connection: RawConnection) -> None:
        batch = context.options.batch
        while granted := context.budget.take(batch):
            started = time.perf_counter()
            answer = await request(
                context,
                connection,
                "GET",
                f"{queue}/message?max_messages={granted}&visibility_timeout=600&wait_seconds=0",
            )
            if answer is None or answer[0] != 200:
                context.budget.give_back(granted)
                if answer is not None:
                    context.tally.error(f"HTTP {answer[0]}")
                continue
            handles = [m["receipt_handle"] for m in json.loads(answer[1])["messages"]]
            context.budget.give_back(granted - len(handles))
            if not handles:
                note = "the queue ran empty: raise --prefill (or use --count)"
                if note not in context.tally.notes:
                    context.tally.notes.append(note)
                return
            deleted = await self.delete(context, connection, queue, handles)
            context.done(deleted, (time.perf_counter() - started) * 1000)

    async def delete(
        self, context: Context, connection: RawConnection, queue: str, handles: list[str]
    ) -> int:
        if len(handles) == 1:
            answer = await request(context, connection, "DELETE", f"{queue}/message/{handles[0]}")
            if answer is not None and answer[0] != 204:
                context.tally.error(f"HTTP {answer[0]}")
            return 1 if answer is not None and answer[0] == 204 else 0
        body = json.dumps({"receipt_handles": handles}).encode()
        answer = await request(context, connection, "POST", f"{queue}/messages/delete", body)
        if answer is None:
            return 0
        if answer[0] != 200:
            context.tally.error(f"HTTP {answer[0]}")
            return 0
        results = json.loads(answer[1])["results"]
        failed = [r["status"] for r in results if r["status"] != 204]
        for status in failed:
            context.tally.error(f"delete {status}")
        return len(results) - len(failed)

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        return {"prefill": plan["prefill"], "prefill_msgs_per_s": plan["prefill_msgs_per_s"]}
