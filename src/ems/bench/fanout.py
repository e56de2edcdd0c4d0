"""Fanout: publish to a topic with --queues queue and --webhooks webhook subscribers.

Publishers run closed loop (or open loop at --rate). The webhooks point at a receiver this
process serves on loopback, so the server must allow private webhook addresses
(``ems serve --webhook-allow-private``, EMS_WEBHOOK_ALLOW_PRIVATE=1); when it refuses, the run
goes on with queue subscribers only and says so. Push latency runs from the start of the publish
request to the push reaching the receiver.
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
from ems.bench.webhooks import WebhookReceiver

CONFIRM_SECONDS = 15.0
PUSH_DRAIN_SECONDS = 60.0  # pushes still arriving after the last publish: wait while they flow
REFUSED = (
    "EMS refused the loopback webhook URL ({detail}): start the server with "
    "--webhook-allow-private (EMS_WEBHOOK_ALLOW_PRIVATE=1) to measure webhook pushes; "
    "ran with queue subscribers only"
)


class Fanout:
    unit = "publishes"

    def __init__(self) -> None:
        self.receiver = WebhookReceiver()
        self.published: dict[str, float] = {}  # message id -> publish start (monotonic)

    async def setup(self, options: Options) -> Plan:
        await self.receiver.start()
        setup = api.Api(options.target)
        notes: list[str] = []
        try:
            topic_id: str = (await setup.call("POST", "/ems/topic"))["topic_id"]
            queue_ids = await api.create_queues(options.target, options.queues)
            subscribe = f"/ems/topic/{topic_id}/subscription"
            for queue_id in queue_ids:
                await setup.call("POST", f"{subscribe}?queue_id={queue_id}")
            webhooks = 0
            for n in range(options.webhooks):
                status, answer = await setup.connection.request(
                    "POST", setup.path(f"{subscribe}?url={self.receiver.url(str(n))}")
                )
                if status in (200, 201):
                    webhooks += 1
                    continue
                problem = json.loads(answer) if answer.startswith(b"{") else {}
                detail = str(problem.get("type", status)).rsplit("/", 1)[-1]
                notes.append(REFUSED.format(detail=detail))
                print(notes[-1], file=sys.stderr)
                break
            deadline = time.monotonic() + CONFIRM_SECONDS
            while webhooks:
                info = await setup.call("GET", f"/ems/topic/{topic_id}")
                if info["subscriptions"]["http_confirmed"] >= webhooks:
                    break
                if time.monotonic() > deadline:
                    raise api.SetupError("webhook subscriptions were not confirmed in time")
                await asyncio.sleep(0.05)
        finally:
            await setup.close()
        return {"topic_id": topic_id, "queue_ids": queue_ids, "webhooks": webhooks, "notes": notes}

    async def teardown(self, options: Options, plan: Plan) -> None:
        cleanup = api.Api(options.target)
        try:
            await cleanup.call("DELETE", f"/ems/topic/{plan['topic_id']}", expect=(204, 404))
        finally:
            await cleanup.close()
        await api.delete_queues(options.target, plan["queue_ids"])
        await self.receiver.stop()

    async def run(self, context: Context, plan: Plan) -> None:
        options = context.options
        path = context.path(f"/ems/topic/{plan['topic_id']}/message")
        body = b"x" * options.size
        interval = 1 / options.rate if options.rate else 0.0

        async def publish(connection: RawConnection, offset: int) -> None:
            n = 0
            start = time.monotonic()
            while context.budget.take(1):
                if interval:  # open loop: this connection's share of the schedule
                    intended = start + (offset + n * options.connections) * interval
                    n += 1
                    if (delay := intended - time.monotonic()) > 0:
                        await asyncio.sleep(delay)
                started = time.monotonic()
                answer = await request(context, connection, "POST", path, body)
                if answer is None:
                    continue
                if answer[0] != 201:
                    context.tally.error(f"HTTP {answer[0]}")
                    continue
                self.published[json.loads(answer[1])["message_id"]] = started
                context.done(1, (time.monotonic() - started) * 1000)

        async with connections(context, options.connections) as opened:
            context.budget.start()
            await asyncio.gather(*(publish(c, i) for i, c in enumerate(opened)))
        publishing_ended = time.monotonic()
        expected = len(self.published) * plan["webhooks"]
        last_count, last_progress = -1, time.monotonic()
        while self.receiver.pushes < expected:
            if self.receiver.pushes != last_count:
                last_count, last_progress = self.receiver.pushes, time.monotonic()
            elif time.monotonic() - last_progress > PUSH_DRAIN_SECONDS:
                break
            await asyncio.sleep(0.05)
        tally = context.tally
        for message_id, arrivals in self.receiver.arrivals.items():
            if (started := self.published.get(message_id)) is not None:
                for arrived in arrivals:
                    tally.sample("push", (arrived - started) * 1000)
        if missing := expected - self.receiver.pushes:
            tally.errors["pushes not received"] += missing
        tally.sample("push_seconds", time.monotonic() - min(self.published.values(), default=0))
        tally.sample("publish_seconds", publishing_ended - min(self.published.values(), default=0))
        tally.notes.extend(plan["notes"])

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        extra = tally.extra_latencies_ms
        push_seconds = extra.pop("push_seconds", [0.0])[0]
        publish_seconds = extra.pop("publish_seconds", [0.0])[0]
        pushes = self.receiver.pushes
        return {
            "queue_subscribers": options.queues,
            "webhook_subscribers": plan["webhooks"],
            "queue_messages_written": tally.operations * options.queues,
            "throughput_per_s": round(tally.operations / publish_seconds, 1)
            if publish_seconds
            else 0.0,
            "pushes": pushes,
            "pushes_per_s": round(pushes / push_seconds, 1) if push_seconds and pushes else 0.0,
        }
