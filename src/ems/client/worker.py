"""Workers: the receive, process, delete loop every consumer needs, done right once.

A worker long-polls a queue, runs up to ``concurrency`` handlers at a time, and for each message:

- deletes it when the handler returns (so a crash mid-way means redelivery, never loss);
- if the handler returned something and the message has a ``reply-to`` attribute (as
  :meth:`ems.Client.request` sends), first sends the return value there with the message's
  correlation id;
- keeps extending its visibility while the handler runs, so a long job is not handed to a second
  consumer;
- when the handler raises, leaves the message to come back (after ``retry_delay`` seconds, or its
  visibility timeout): its receive count grows, so a queue with a dead-letter queue moves a message
  that always fails there instead of retrying it forever.

``stop()`` is graceful: no new messages are taken, and handlers already running finish (and their
messages are deleted) before ``run()`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ems.client.aio import AsyncClient
from ems.client.base import REPLY_TO
from ems.client.calls import Body
from ems.client.errors import ClientError, Conflict, NotFound
from ems.client.models import Message
from ems.client.sync import Client

log = logging.getLogger("ems.worker")

Handler = Callable[[Message], Body | None]
AsyncHandler = Callable[[Message], Awaitable[Body | None]]


@dataclass(slots=True)
class _Lease:
    message: Message
    expires: float


class _Settings:
    def __init__(
        self,
        queue_id: str,
        concurrency: int,
        wait_seconds: int,
        visibility_timeout: int,
        retry_delay: int | None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 1 <= visibility_timeout <= 43_200:
            raise ValueError("visibility_timeout must be 1 to 43200 seconds")
        self.queue_id = queue_id
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.retry_delay = retry_delay
        # extend a lease when less than half of it is left
        self.extend_margin = visibility_timeout / 2


class Worker(_Settings):
    """Process a queue with a blocking ``handler(message)`` in ``concurrency`` threads.

    >>> def handle(message):                                   # doctest: +SKIP
    ...     return resize(message.body)   # returned value = the reply, if one was asked for
    >>> Worker(client, receive_id, handle, concurrency=8).run()  # doctest: +SKIP
    """

    def __init__(
        self,
        client: Client,
        queue_id: str,
        handler: Handler,
        *,
        concurrency: int = 4,
        wait_seconds: int = 20,
        visibility_timeout: int = 30,
        retry_delay: int | None = None,
    ) -> None:
        super().__init__(queue_id, concurrency, wait_seconds, visibility_timeout, retry_delay)
        self.client = client
        self.handler = handler
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self.processed = 0
        self.failed = 0

    def stop(self) -> None:
        """Take no new messages; ``run()`` returns once running handlers finish."""
        self._stopping.set()

    def start(self) -> threading.Thread:
        """Run in a background thread; ``stop()`` then ``join()`` it."""
        thread = threading.Thread(target=self.run, name="ems-worker", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        extender = threading.Thread(target=self._extend_leases, name="ems-worker-leases")
        extender.start()
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="ems-handler") as pool:
                while not self._stopping.is_set():
                    free = self._wait_for_room()
                    if free == 0 or self._stopping.is_set():
                        continue
                    for message in self._receive(free):
                        if self._stopping.is_set():
                            self._release(message)
                            continue
                        with self._lock:
                            self._leases[message.receipt_handle] = _Lease(
                                message, time.monotonic() + self.visibility_timeout
                            )
                        pool.submit(self._process, message)
        finally:
            self._stopping.set()
            extender.join()

    def _wait_for_room(self) -> int:
        with self._room:
            self._room.wait_for(
                lambda: len(self._leases) < self.concurrency or self._stopping.is_set(), 1.0
            )
            return min(100, self.concurrency - len(self._leases))

    def _receive(self, free: int) -> list[Message]:
        try:
            return self.client.receive(
                self.queue_id,
                max_messages=free,
                wait_seconds=self.wait_seconds,
                visibility_timeout=self.visibility_timeout,
            )
        except ClientError as error:
            log.warning("receive failed, retrying in 1 s: %s", error)
            self._stopping.wait(1.0)
            return []

    def _process(self, message: Message) -> None:
        try:
            result = self.handler(message)
            target = message.attributes.get(REPLY_TO)
            if target is not None and result is not None:
                self.client.send(target, result, correlation_id=message.correlation_id)
            self.client.delete(self.queue_id, message.receipt_handle)
            self.processed += 1
        except Exception:
            self.failed += 1
            log.exception("handler failed for message %s", message.message_id)
            if self.retry_delay is not None:
                self._change_visibility(message, self.retry_delay)
        finally:
            with self._room:
                self._leases.pop(message.receipt_handle, None)
                self._room.notify()

    def _release(self, message: Message) -> None:
        self._change_visibility(message, 0)

    def _change_visibility(self, message: Message, seconds: int) -> bool:
        try:
            self.client.change_visibility(self.queue_id, message.receipt_handle, seconds)
            return True
        except (Conflict, NotFound):
            return False  # another consumer has it, or it is gone: nothing to keep
        except ClientError as error:
            log.warning("could not change visibility of %s: %s", message.message_id, error)
            return True

    def _extend_leases(self) -> None:
        while True:
            stopping = self._stopping.wait(0.2)
            now = time.monotonic()
            with self._lock:
                if stopping and not self._leases:
                    return
                due = [
                    lease
                    for lease in self._leases.values()
                    if lease.expires - now < self.extend_margin
                ]
            for lease in due:
                if self._change_visibility(lease.message, self.visibility_timeout):
                    lease.expires = time.monotonic() + self.visibility_timeout


class AsyncWorker(_Settings):
    """Process a queue with ``async def handler(message)``, ``concurrency`` at a time."""

    def __init__(
        self,
        client: AsyncClient,
        queue_id: str,
        handler: AsyncHandler,
        *,
        concurrency: int = 10,
        wait_seconds: int = 20,
        visibility_timeout: int = 30,
        retry_delay: int | None = None,
    ) -> None:
        super().__init__(queue_id, concurrency, wait_seconds, visibility_timeout, retry_delay)
        self.client = client
        self.handler = handler
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.processed = 0
        self.failed = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        room = asyncio.Semaphore(self.concurrency)
        while not self._stopping.is_set():
            await room.acquire()
            free = 1
            while free < min(100, self.concurrency) and not room.locked():
                await room.acquire()
                free += 1
            try:
                messages = await self.client.receive(
                    self.queue_id,
                    max_messages=free,
                    wait_seconds=self.wait_seconds,
                    visibility_timeout=self.visibility_timeout,
                )
            except ClientError as error:
                log.warning("receive failed, retrying in 1 s: %s", error)
                messages = []
                await asyncio.sleep(1.0)
            for _ in range(free - len(messages)):
                room.release()
            for message in messages:
                if self._stopping.is_set():
                    await self._change_visibility(message, 0)
                    room.release()
                    continue
                task = asyncio.create_task(self._process(message, room))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _process(self, message: Message, room: asyncio.Semaphore) -> None:
        extender = asyncio.create_task(self._keep_lease(message))
        try:
            result = await self.handler(message)
            target = message.attributes.get(REPLY_TO)
            if target is not None and result is not None:
                await self.client.send(target, result, correlation_id=message.correlation_id)
            await self.client.delete(self.queue_id, message.receipt_handle)
            self.processed += 1
        except Exception:
            self.failed += 1
            log.exception("handler failed for message %s", message.message_id)
            if self.retry_delay is not None:
                await self._change_visibility(message, self.retry_delay)
        finally:
            extender.cancel()
            room.release()

    async def _keep_lease(self, message: Message) -> None:
        while True:
            await asyncio.sleep(self.visibility_timeout - self.extend_margin)
            if not await self._change_visibility(message, self.visibility_timeout):
                return

    async def _change_visibility(self, message: Message, seconds: int) -> bool:
        try:
            await self.client.change_visibility(self.queue_id, message.receipt_handle, seconds)
            return True
        except (Conflict, NotFound):
            return False
        except ClientError as error:
            log.warning("could not change visibility of %s: %s", message.message_id, error)
            return True
