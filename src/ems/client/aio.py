"""The asyncio client: ``ems.AsyncClient``, the same calls as ``ems.Client``, awaited."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ems.client import calls, crypto
from ems.client.base import BaseClient, translate
from ems.client.calls import Body, Call, raise_for_problem
from ems.client.models import (
    BatchResult,
    Message,
    OutgoingMessage,
    Published,
    Queue,
    QueueInfo,
    Redrive,
    Subscription,
    Topic,
)

T = TypeVar("T")


class AsyncClient(BaseClient):
    """An asyncio client for one EMS server; see :class:`ems.Client` for each call.

    ``transport=httpx.ASGITransport(app)`` runs the client against an EMS app in-process.

    >>> async with AsyncClient("http://127.0.0.1:8080") as ems:  # doctest: +SKIP
    ...     q = await ems.create_queue()
    ...     await ems.send(q.queue_id, b"Hello World")
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, api_key=api_key, timeout=timeout, headers=headers)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self.headers, transport=transport)

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params or None,
                headers=call.headers or None,
                content=call.content,
                json=call.json,
                timeout=self._timeout(call),
            )
        except httpx.HTTPError as error:
            raise translate(error) from error
        raise_for_problem(response)
        return call.parse(response)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # queues

    async def create_queue(self, **attributes: Any) -> Queue:
        """Create a queue; attributes as in the API (``visibility_timeout=60``, ...)."""
        return await self._run(calls.create_queue(attributes))

    async def get_queue(self, queue_id: str) -> QueueInfo:
        return await self._run(calls.get_queue(queue_id))

    async def update_queue(self, queue_id: str, **attributes: Any) -> QueueInfo:
        return await self._run(calls.update_queue(queue_id, attributes))

    async def delete_queue(self, queue_id: str) -> None:
        await self._run(calls.delete_queue(queue_id))

    async def purge_queue(self, queue_id: str) -> None:
        await self._run(calls.purge_queue(queue_id))

    async def rotate_queue(self, queue_id: str) -> dict[str, Any]:
        """New ``send_id`` and ``receive_id``; the old ones stop working."""
        return await self._run(calls.rotate_queue(queue_id))

    async def start_redrive(
        self,
        queue_id: str,
        *,
        destination_queue_id: str | None = None,
        max_messages_per_second: int | None = None,
    ) -> Redrive:
        """Move the dead-letter queue's messages out: to the destination, or each back to the
        queue it came from. One redrive runs per queue at a time."""
        return await self._run(
            calls.start_redrive(queue_id, destination_queue_id, max_messages_per_second)
        )

    async def get_redrive(self, queue_id: str) -> Redrive:
        """The queue's latest redrive."""
        return await self._run(calls.get_redrive(queue_id))

    async def cancel_redrive(self, queue_id: str) -> Redrive:
        """Stop the running redrive; what moved stays moved."""
        return await self._run(calls.cancel_redrive(queue_id))

    # messages

    async def send(
        self,
        queue_id: str,
        body: Body,
        *,
        correlation_id: str | None = None,
        delay_seconds: int | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Send one message; returns its message id once the server has committed it."""
        return await self._run(
            calls.send(queue_id, body, correlation_id, delay_seconds, attributes)
        )

    async def send_batch(
        self, queue_id: str, messages: Iterable[OutgoingMessage | Body]
    ) -> list[str]:
        """Send up to 1000 messages, all or nothing; returns their ids in order."""
        return await self._run(calls.send_batch(queue_id, messages))

    async def receive(
        self,
        queue_id: str,
        *,
        max_messages: int = 1,
        wait_seconds: float | None = None,
        visibility_timeout: int | None = None,
        correlation_id: str | None = None,
    ) -> list[Message]:
        """Receive up to ``max_messages``, long-polling up to ``wait_seconds`` (0 to 20)."""
        return await self._run(
            calls.receive(queue_id, max_messages, wait_seconds, visibility_timeout, correlation_id)
        )

    async def delete(self, queue_id: str, receipt_handle: str) -> None:
        await self._run(calls.delete(queue_id, receipt_handle))

    async def delete_batch(
        self, queue_id: str, receipt_handles: Iterable[str]
    ) -> list[BatchResult]:
        return await self._run(calls.delete_batch(queue_id, receipt_handles))

    async def change_visibility(
        self, queue_id: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        """Extend a received message's lease, or release it at once with 0."""
        await self._run(calls.change_visibility(queue_id, receipt_handle, visibility_timeout))

    async def change_visibility_batch(
        self, queue_id: str, entries: Mapping[str, int]
    ) -> list[BatchResult]:
        return await self._run(calls.change_visibility_batch(queue_id, entries))

    async def peek(
        self, queue_id: str, *, max_messages: int = 10, after: str | None = None
    ) -> dict[str, Any]:
        return await self._run(calls.peek(queue_id, max_messages, after))

    # request/response by correlation id

    async def request(
        self,
        queue_id: str,
        body: Body,
        *,
        reply_queue_id: str,
        reply_to: str | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 (the same call as Client.request)
        attributes: Mapping[str, str] | None = None,
    ) -> Message:
        """Send a request and wait for its reply; raises NoReply after ``timeout`` seconds.

        The request carries a new correlation id and a ``reply-to`` attribute (``reply_to``, best
        the reply queue's ``send_id``; by default ``reply_queue_id``). A :class:`~ems.Worker`
        handler's return value is sent there with the same correlation id. The reply is received
        from ``reply_queue_id`` by correlation id, so many requesters can share one reply queue,
        and deleted.
        """
        correlation_id = self._new_correlation_id()
        reply_attributes = self._request_attributes(attributes, reply_to or reply_queue_id)
        await self.send(queue_id, body, correlation_id=correlation_id, attributes=reply_attributes)
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            wait = min(20, math.ceil(left))
            replies = await self.receive(
                reply_queue_id, wait_seconds=wait, correlation_id=correlation_id
            )
            if replies:
                await self.delete(reply_queue_id, replies[0].receipt_handle)
                return replies[0]
        raise self._no_reply(timeout)

    # topics

    async def create_topic(self, **attributes: Any) -> Topic:
        return await self._run(calls.create_topic(attributes))

    async def get_topic(self, topic_id: str) -> dict[str, Any]:
        return await self._run(calls.get_topic(topic_id))

    async def delete_topic(self, topic_id: str) -> None:
        await self._run(calls.delete_topic(topic_id))

    async def subscribe_queue(self, topic_id: str, queue_id: str, **options: Any) -> Subscription:
        """Subscribe a queue: pass its ``send_id`` (a topic only sends; the ``queue_id`` works
        too). The subscription shows the queue by its ``queue_ref``, never by an id."""
        return await self._run(calls.subscribe(topic_id, {"queue_id": queue_id}, options))

    async def subscribe_url(self, topic_id: str, url: str, **options: Any) -> Subscription:
        """Subscribe a webhook; it must confirm before pushes begin (see docs/topics.md)."""
        return await self._run(calls.subscribe(topic_id, {"url": url}, options))

    async def subscribe_email(self, topic_id: str, address: str, **options: Any) -> Subscription:
        """Subscribe an email address: it gets a confirmation mail, and mails only once its
        link is opened. The server must have SMTP settings (see docs/topics.md)."""
        return await self._run(calls.subscribe(topic_id, {"email": address}, options))

    async def subscriptions(self, topic_id: str) -> list[Subscription]:
        return await self._run(calls.subscriptions(topic_id))

    async def get_subscription(self, topic_id: str, subscription_id: str) -> Subscription:
        return await self._run(calls.get_subscription(topic_id, subscription_id))

    async def unsubscribe(self, topic_id: str, subscription_id: str) -> None:
        await self._run(calls.unsubscribe(topic_id, subscription_id))

    async def publish(
        self,
        topic_id: str,
        body: Body,
        *,
        correlation_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Published:
        return await self._run(calls.publish(topic_id, body, correlation_id, attributes))

    # crypto: local by default, so no key leaves the process

    async def random_key(self, *, server: bool = False) -> str:
        return await self._run(calls.server_random_key()) if server else crypto.random_key()

    async def encrypt(self, key: str, data: Body, *, server: bool = False) -> str:
        return (
            await self._run(calls.server_encrypt(key, data))
            if server
            else crypto.encrypt(key, data)
        )

    async def decrypt(self, key: str, token: str, *, server: bool = False) -> bytes:
        return (
            await self._run(calls.server_decrypt(key, token))
            if server
            else crypto.decrypt(key, token)
        )
