"""Fanout: publish to a topic with --queues queue and --webhooks webhook subscribers.

Publishers run closed loop (or open loop at --rate) for --duration (or --count publishes). The
webhooks point at a receiver this process serves on loopback, so the server must allow private
webhook addresses (``ems serve --webhook-allow-private``, EMS_WEBHOOK_ALLOW_PRIVATE=1); when it
refuses, the run goes on with queue subscribers only and says so. Push latency runs from the
start of the publish request to the push reaching the receiver.

A closed loop publishes far faster than any server pushes (each push is an HTTP request of its
own), so the run is bounded twice: publishing stops at --duration, and the wait for pushes still
under way stops --drain seconds after the last publish. Whatever has not arrived by then is
reported as not arrived, not hidden. The cleanup unsubscribes the webhooks first, then deletes
the topic and the queues, and it also runs when the run is interrupted or its setup fails: a
topic left behind would have the server retrying its pushes to a receiver that is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from ems.bench import api
from ems.bench.context import TRANSPORT_ERRORS, Context, connections, request
from ems.bench.http import RawConnection
from ems.bench.options import Options
from ems.bench.scenario import Plan
from ems.bench.stats import Tally
from ems.bench.webhooks import WebhookReceiver

CONFIRM_SECONDS = 15.0
CLEANUP_SECONDS = 30.0  # per call: a busy server still answers a delete well within this
REFUSED = (
    "EMS refused the loopback webhook URL ({detail}): start the server with "
    "--webhook-allow-private (EMS_WEBHOOK_ALLOW_PRIVATE=1) to measure webhook pushes; "
    "ran with queue subscribers only"
)
NOT_ARRIVED = (
    "{missing:,} of {expected:,} pushes had not arrived {drain:g} s after the last publish: "
    "publishing outpaced pushing. The run deleted its topic, so the server dropped them. "
    "Publish at a rate the server can push (--rate) or wait longer (--drain)"
)


class Fanout:
    unit = "publishes"

    def __init__(self) -> None:
        self.receiver = WebhookReceiver()
        self.published: dict[str, float] = {}  # message id -> publish start (monotonic)
        # what setup made, kept here so that a setup that fails halfway is cleaned up too
        self.topic_id: str | None = None
        self.queue_ids: list[str] = []
        self.webhook_subscriptions: list[str] = []

    async def setup(self, options: Options) -> Plan:
        await self.receiver.start()
        try:
            return await self._subscribe(options)
        except BaseException:
            await self.teardown(options, {})
            raise

    async def _subscribe(self, options: Options) -> Plan:
        setup = api.Api(options.target)
        notes: list[str] = []
        try:
            self.topic_id = (await setup.call("POST", "/ems/topic"))["topic_id"]
            self.queue_ids = await api.create_queues(options.target, options.queues)
            subscribe = f"/ems/topic/{self.topic_id}/subscription"
            for queue_id in self.queue_ids:
                await setup.call("POST", f"{subscribe}?queue_id={queue_id}")
            for n in range(options.webhooks):
                status, answer = await setup.connection.request(
                    "POST", setup.path(f"{subscribe}?url={self.receiver.url(str(n))}")
                )
                if status in (200, 201):
                    self.webhook_subscriptions.append(json.loads(answer)["subscription_id"])
                    continue
                problem = json.loads(answer) if answer.startswith(b"{") else {}
                detail = str(problem.get("type", status)).rsplit("/", 1)[-1]
                notes.append(REFUSED.format(detail=detail))
                print(notes[-1], file=sys.stderr)
                break
            webhooks = len(self.webhook_subscriptions)
            deadline = time.monotonic() + CONFIRM_SECONDS
            while webhooks:
                info = await setup.call("GET", f"/ems/topic/{self.topic_id}")
                if info["subscriptions"]["http_confirmed"] >= webhooks:
                    break
                if time.monotonic() > deadline:
                    raise api.SetupError("webhook subscriptions were not confirmed in time")
                await asyncio.sleep(0.05)
        finally:
            await setup.close()
        return {
            "topic_id": self.topic_id,
            "queue_ids": self.queue_ids,
            "webhooks": webhooks,
            "notes": notes,
        }

    async def teardown(self, options: Options, plan: Plan) -> None:
        """Unsubscribe the webhooks (their pending pushes go with them), then delete the rest."""
        cleanup = api.Api(options.target)
        topic = f"/ems/topic/{self.topic_id}"
        try:
            if self.topic_id is not None:
                for subscription_id in self.webhook_subscriptions:
                    await _bounded(
                        cleanup.call(
                            "DELETE", f"{topic}/subscription/{subscription_id}", expect=(204, 404)
                        )
                    )
                await _bounded(cleanup.call("DELETE", topic, expect=(204, 404)))
        finally:
            await cleanup.close()
            await _bounded(api.delete_queues(options.target, self.queue_ids))
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
        await self._drain(context, expected, publishing_ended + options.drain)
        tally = context.tally
        first_publish = min(self.published.values(), default=publishing_ended)
        last_push = first_publish
        for message_id, arrivals in self.receiver.arrivals.items():
            if (started := self.published.get(message_id)) is not None:
                for arrived in arrivals:
                    tally.sample("push", (arrived - started) * 1000)
                    last_push = max(last_push, arrived)
        if missing := expected - self.receiver.pushes:
            tally.notes.append(
                NOT_ARRIVED.format(missing=missing, expected=expected, drain=options.drain)
            )
        tally.sample("pushes_not_arrived", max(missing, 0))
        tally.sample("push_seconds", last_push - first_publish)
        tally.sample("publish_seconds", publishing_ended - first_publish)
        tally.notes.extend(plan["notes"])

    async def _drain(self, context: Context, expected: int, deadline: float) -> None:
        """Wait for the pushes still under way, until all arrived or the deadline passed."""
        while (arrived := self.receiver.pushes) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            context.phase = (
                f"publishing done; waiting for pushes: {arrived:,} of {expected:,} arrived "
                f"({remaining:.0f} s left)"
            )
            await asyncio.sleep(0.05)
        context.phase = None

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        extra = tally.extra_latencies_ms
        push_seconds = extra.pop("push_seconds", [0.0])[0]
        publish_seconds = extra.pop("publish_seconds", [0.0])[0]
        not_arrived = int(extra.pop("pushes_not_arrived", [0.0])[0])
        pushes = self.receiver.pushes
        return {
            "queue_subscribers": options.queues,
            "webhook_subscribers": plan["webhooks"],
            "queue_messages_written": tally.operations * options.queues,
            # rates over the publishing, not over the wait for pushes that followed it
            "throughput_per_s": round(tally.operations / publish_seconds, 1)
            if publish_seconds
            else 0.0,
            "requests_per_s": round(tally.requests / publish_seconds, 1)
            if publish_seconds
            else 0.0,
            "pushes": pushes,
            "pushes_not_arrived": not_arrived,
            "pushes_per_s": round(pushes / push_seconds, 1) if push_seconds and pushes else 0.0,
        }


async def _bounded(call: Any) -> None:
    """One cleanup call, given up on (rather than hanging the exit) if the server is gone."""
    with contextlib.suppress(TimeoutError, api.SetupError, *TRANSPORT_ERRORS):
        await asyncio.wait_for(call, CLEANUP_SECONDS)
