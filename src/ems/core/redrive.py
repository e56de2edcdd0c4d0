"""Dead-letter redrive: message move tasks, the rules and the runner that drives them.

A task moves the messages of a dead-letter queue, oldest first, either to one destination queue
or each back to the queue it was dead-lettered from (the store records that queue with every
dead-lettered message). Both APIs start, show and cancel tasks through :class:`Redrive`: the SQS
API's Start/List/CancelMessageMoveTask, the native ``/ems/queue/{id}/redrive``, and the operator
console.

Durable and exactly once: a task is a row in the store, and every step of it is one
transaction that moves a batch of messages (each inserted into its destination, renumbered, and
deleted from the dead-letter queue) and adds them to the task's count. A crash (kill -9) rolls
back the step in progress, so a message is moved once or not at all; the task resumes where the
last committed step left it. One node drives a task at a time, under a lease that each step
renews: a node that dies stops renewing, and another claims the task when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Final

from ems.core import capabilities, fifo, limits
from ems.core.errors import InvalidRequest, QueueNotFound, StorageUnavailable
from ems.core.ids import queue_hash
from ems.core.move_models import MoveStatus, MoveTask, NewMoveTask
from ems.core.queue_access import Use
from ems.core.queues import QueueService
from ems.storage.base import Store

log = logging.getLogger("ems.redrive")

# SQS's bound on MaxNumberOfMessagesPerSecond
RATE: Final = limits.Bound("max_messages_per_second", 1, 500, "messages per second")
# messages moved per step (one transaction) when no rate slows the task down
BATCH: Final = 100
# finished tasks remembered per dead-letter queue (listings show the newest); older ones are
# forgotten when a new task starts, so what one queue's tasks keep in the store is bounded
KEEP_FINISHED: Final = 10
# how long a node's claim on a task lasts without a step renewing it
LEASE_SECONDS: Final = 10.0
# how often an idle runner looks for tasks (started elsewhere, or left by a node that died)
IDLE_SECONDS: Final = 1.0


class Redrive:
    """Start, show and cancel move tasks by queue id; run the tasks of this node."""

    def __init__(
        self,
        service: QueueService,
        *,
        lease_seconds: float = LEASE_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.service = service
        self.store: Store = service.store
        self.lease_ms = int(lease_seconds * 1000)
        self.idle_seconds = idle_seconds
        # this process's name on the leases it holds
        self.owner = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    # what clients ask

    async def start(
        self,
        dead_letter_id: str,
        *,
        destination_id: str | None = None,
        rate: int | None = None,
        labels: tuple[str | None, str | None] = (None, None),
        fifo_allowed: bool = False,
    ) -> MoveTask:
        """Start moving the dead-letter queue's messages out; ``labels`` are the names the
        caller gave the source and destination (SQS ARNs), shown back in listings.
        ``fifo_allowed``: a FIFO dead-letter queue may be redriven, to FIFO queues only, its
        messages behind what their groups received since (SQS's redrive; the native API
        refuses it, see :func:`ems.core.fifo.check_redrive`)."""
        await self.service.find_queue(dead_letter_id, Use.OWN)
        if destination_id is not None:
            # any id that may send there (its queue_id or its send_id) names the destination
            try:
                await self.service.find_queue(destination_id, Use.SEND)
            except QueueNotFound:
                raise QueueNotFound(
                    "No queue has the destination's id; it was deleted or never existed.",
                    parameter="destination_queue_id",
                ) from None
        return await self.start_by_hash(
            queue_hash(dead_letter_id),
            destination_hash=None if destination_id is None else queue_hash(destination_id),
            rate=rate,
            labels=labels,
            fifo_allowed=fifo_allowed,
        )

    async def tasks(self, dead_letter_id: str, *, limit: int = 1) -> list[MoveTask]:
        """The queue's most recent tasks, newest first."""
        await self.service.find_queue(dead_letter_id, Use.OWN)
        return await self.store.list_move_tasks(queue_hash(dead_letter_id), limit)

    async def cancel(self, dead_letter_id: str, handle: str | None = None) -> MoveTask:
        """Ask the queue's running task (the one by ``handle``, if given) to stop; it is
        CANCELLING until its runner stops it. Messages already moved stay moved."""
        await self.service.find_queue(dead_letter_id, Use.OWN)
        return await self.cancel_by_hash(queue_hash(dead_letter_id), handle)

    # what the operator asks (the admin console): queues by the hashes of their full ids, which
    # is all an operator sees of them; the admin token is the capability, checked by the caller

    async def start_by_hash(
        self,
        source_hash: bytes,
        *,
        destination_hash: bytes | None = None,
        rate: int | None = None,
        labels: tuple[str | None, str | None] = (None, None),
        fifo_allowed: bool = False,
    ) -> MoveTask:
        if rate is not None:
            rate = RATE.check(rate, error=InvalidRequest)
        with contextlib.suppress(QueueNotFound):  # a missing queue: the store says so below
            source = (await self.store.get_queue(source_hash)).config.fifo
            if not fifo_allowed:
                fifo.check_redrive(source)
            if destination_hash is not None:
                target = (await self.store.get_queue(destination_hash)).config.fifo
                fifo.check_redrive_destination(source, target)
        task = NewMoveTask(
            handle=capabilities.new_id(),
            source_hash=source_hash,
            destination_hash=destination_hash,
            rate=rate,
            source_label=labels[0],
            destination_label=labels[1],
        )
        started = await self.store.start_move_task(task, keep_finished=KEEP_FINISHED)
        self._wake.set()
        return started

    async def tasks_by_hash(self, source_hash: bytes, *, limit: int = 1) -> list[MoveTask]:
        return await self.store.list_move_tasks(source_hash, limit)

    async def cancel_by_hash(self, source_hash: bytes, handle: str | None = None) -> MoveTask:
        cancelled = await self.store.cancel_move_task(source_hash, handle)
        self._wake.set()
        return cancelled

    # the runner

    def start_runner(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="ems-redrive")

    async def stop_runner(self) -> None:
        if self._runner is None:
            return
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        self._runner = None
        # hand the tasks back at once: a restart (or another node) resumes them without waiting
        # for the lease to end
        with contextlib.suppress(Exception):
            await self.store.release_move_tasks(self.owner)

    async def _run(self) -> None:
        while True:
            try:
                task = await self.store.claim_move_task(self.owner, self.lease_ms)
                if task is not None:
                    await self.drive(task)
                    continue
            except StorageUnavailable:
                log.debug("redrive: storage unavailable; retrying")
            except Exception:
                log.exception("redrive runner failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    async def drive(self, task: MoveTask) -> None:
        """Move the task's messages, a step at a time, until it ends or this node loses it."""
        loop = asyncio.get_running_loop()
        limit = BATCH if task.rate is None else min(BATCH, task.rate)
        log.info("redrive %s: running (%d to move)", task.key, task.to_move)
        while True:
            began = loop.time()
            step = await self.store.move_messages(task.key, self.owner, limit, self.lease_ms)
            self.service.metrics.count("redriven", step.moved)
            if step.lost or step.status is not MoveStatus.RUNNING:
                log.info("redrive %s: %s", task.key, "lost" if step.lost else step.status.value)
                return
            # the rate, on average over each step: a step of n messages takes n / rate seconds
            pause = 0.0 if task.rate is None else step.moved / task.rate - (loop.time() - began)
            await asyncio.sleep(max(pause, 0.0))
