"""Each account's queue names, and the EMS queue each name stands for.

The store keeps, per (account, name), the EMS queue's id sealed under a server secret and the
account: the id is recovered only through this layer, never stored in the clear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ems.core import capabilities
from ems.core.errors import QueueNotFound
from ems.core.models import SqsQueue
from ems.core.queues import QueueService
from ems.sqs.errors import no_queue
from ems.sqs.names import Caller


class Registry:
    # names read from the store at a time
    page_size: ClassVar[int] = 1000

    def __init__(self, service: QueueService, secret: bytes) -> None:
        self.service = service
        self.store = service.store
        self._secret = secret.hex()

    def _owner(self, account: str) -> str:
        return f"ems/sqs/{self._secret}/{account}"

    def queue_id(self, entry: SqsQueue) -> str:
        queue_id = capabilities.unseal(self._owner(entry.account), entry.sealed_queue_id)
        if queue_id is None:
            raise no_queue()
        return queue_id

    async def entry(self, account: str, name: str) -> tuple[SqsQueue, str]:
        """The name's entry and its EMS queue id, without checking that the queue still exists:
        for calls the queue service makes anyway (it answers QueueNotFound if it is gone)."""
        entry = await self.store.get_sqs_queue(account, name)
        if entry is None:
            raise no_queue()
        return entry, self.queue_id(entry)

    async def find(self, account: str, name: str) -> tuple[SqsQueue, str]:
        """The name's entry and its EMS queue id; QueueDoesNotExist if either is gone."""
        entry, queue_id = await self.entry(account, name)
        try:
            await self.service.queue_for_owner(queue_id)
        except QueueNotFound:
            # deleted through the native API: the name is free again
            await self.store.delete_sqs_queue(account, name)
            raise no_queue() from None
        return entry, queue_id

    async def add(
        self, caller: Caller, name: str, queue_id: str, tags: dict[str, str]
    ) -> tuple[SqsQueue, bool]:
        """Record the name for a new EMS queue; (entry, False) if the name was taken meanwhile."""
        now = self.store.clock.now_ms()
        entry = SqsQueue(
            caller.account,
            name,
            capabilities.id_hash(queue_id),
            capabilities.seal(self._owner(caller.account), queue_id),
            now,
            now,
            tags,
        )
        stored = await self.store.add_sqs_queue(entry)
        return stored, stored.queue_hash == entry.queue_hash

    async def entries(self, account: str, *, after: str = "") -> AsyncIterator[SqsQueue]:
        """The account's names after ``after``, in order, read a page at a time."""
        while True:
            page = await self.store.list_sqs_queues(account, after=after, limit=self.page_size)
            for entry in page:
                yield entry
            if len(page) < self.page_size:
                return
            after = page[-1].name

    async def name_of(self, account: str, queue_id: str) -> str | None:
        """The account's name for an EMS queue, if it has one (a scan: names are not indexed by
        queue, and dead-letter queues are looked up rarely)."""
        wanted = capabilities.id_hash(queue_id)
        async for entry in self.entries(account):
            if entry.queue_hash == wanted:
                return entry.name
        return None

    async def touch(self, entry: SqsQueue, tags: dict[str, str] | None = None) -> None:
        await self.store.update_sqs_queue(
            entry.account, entry.name, modified_at_ms=self.store.clock.now_ms(), tags=tags
        )
