"""Each account's queue names, and the EMS queue each name stands for.

The store keeps, per (namespace, name), the EMS queue's id sealed under a server secret and the
account: the id is recovered only through this layer, never stored in the clear. A namespace is
an account and a region (``000000000000/us-east-1``, see :attr:`Caller.namespace`); the store's
``account`` column holds it. Ids are sealed under the account alone, so that names recorded
before queues were per region (migrated into us-east-1) still open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import ClassVar, Final, Protocol

from ems.core import capabilities
from ems.core.clock import Clock
from ems.core.errors import QueueNotFound
from ems.core.models import SqsQueue
from ems.core.queue_access import Use
from ems.core.queues import QueueService
from ems.sqs.errors import no_queue
from ems.sqs.names import Caller

# names whose queue id is remembered (about 200 bytes each): beyond this, the oldest are dropped
MAX_REMEMBERED: Final = 65_536


class SqsNameStore(Protocol):
    """What the SQS API keeps in a store: each account's queue names (declared here, where it
    is used; any :class:`ems.storage.base.Store` is one)."""

    clock: Clock

    async def add_sqs_queue(self, entry: SqsQueue) -> SqsQueue: ...

    async def get_sqs_queue(self, account: str, name: str) -> SqsQueue | None: ...

    async def list_sqs_queues(
        self, account: str, *, prefix: str = "", after: str = "", limit: int = 1000
    ) -> list[SqsQueue]: ...

    async def update_sqs_queue(
        self,
        account: str,
        name: str,
        *,
        modified_at_ms: int,
        tags: Mapping[str, str] | None,
        policy: str | None = None,
    ) -> None: ...

    async def delete_sqs_queue(self, account: str, name: str) -> None: ...


class Registry:
    # names read from the store at a time
    page_size: ClassVar[int] = 1000

    def __init__(self, service: QueueService, secret: bytes) -> None:
        self.service = service
        self.store: SqsNameStore = service.store
        self._secret = secret.hex()
        # (namespace, name) -> EMS queue id, for the message calls: a name is looked up in the
        # store and its id unsealed once, not on every send and receive. An entry can only go
        # stale by its queue being deleted (a name is re-pointed only after that), which the
        # queue service then reports: see :meth:`forget`.
        self._ids: dict[tuple[str, str], str] = {}

    def _owner(self, namespace: str) -> str:
        account = namespace.split("/", 1)[0]
        return f"ems/sqs/{self._secret}/{account}"

    def queue_id(self, entry: SqsQueue) -> str:
        queue_id = capabilities.unseal(self._owner(entry.account), entry.sealed_queue_id)
        if queue_id is None:
            raise no_queue()
        return queue_id

    async def entry(self, namespace: str, name: str) -> tuple[SqsQueue, str]:
        """The name's entry and its EMS queue id, without checking that the queue still exists:
        for calls the queue service makes anyway (it answers QueueNotFound if it is gone)."""
        entry = await self.store.get_sqs_queue(namespace, name)
        if entry is None:
            raise no_queue()
        return entry, self.queue_id(entry)

    async def queue_id_of(self, namespace: str, name: str) -> str:
        """The name's EMS queue id, remembered after the first look-up (like :meth:`entry`, the
        queue itself is not checked: the queue service does that on the call)."""
        key = (namespace, name)
        queue_id = self._ids.get(key)
        if queue_id is None:
            queue_id = (await self.entry(namespace, name))[1]
            if len(self._ids) >= MAX_REMEMBERED:
                del self._ids[next(iter(self._ids))]
            self._ids[key] = queue_id
        return queue_id

    def forget(self, namespace: str, name: str) -> bool:
        """Drop what is remembered of a name (its queue was deleted, here or through another
        node or the native API); whether anything was."""
        return self._ids.pop((namespace, name), None) is not None

    async def remove(self, namespace: str, name: str) -> None:
        """The name is free again."""
        self.forget(namespace, name)
        await self.store.delete_sqs_queue(namespace, name)

    async def find(self, namespace: str, name: str) -> tuple[SqsQueue, str]:
        """The name's entry and its EMS queue id; QueueDoesNotExist if either is gone."""
        entry, queue_id = await self.entry(namespace, name)
        try:
            await self.service.find_queue(queue_id, Use.OWN)
        except QueueNotFound:
            # deleted through the native API: the name is free again
            await self.remove(namespace, name)
            raise no_queue() from None
        return entry, queue_id

    async def add(
        self, caller: Caller, name: str, queue_id: str, tags: dict[str, str], policy: str = ""
    ) -> tuple[SqsQueue, bool]:
        """Record the name for a new EMS queue; (entry, False) if the name was taken meanwhile."""
        now = self.store.clock.now_ms()
        entry = SqsQueue(
            caller.namespace,
            name,
            capabilities.id_hash(queue_id),
            capabilities.seal(self._owner(caller.namespace), queue_id),
            now,
            now,
            tags,
            policy,
        )
        stored = await self.store.add_sqs_queue(entry)
        return stored, stored.queue_hash == entry.queue_hash

    async def entries(self, namespace: str, *, after: str = "") -> AsyncIterator[SqsQueue]:
        """The account's names after ``after``, in order, read a page at a time."""
        while True:
            page = await self.store.list_sqs_queues(namespace, after=after, limit=self.page_size)
            for entry in page:
                yield entry
            if len(page) < self.page_size:
                return
            after = page[-1].name

    async def name_of(self, namespace: str, queue_id: str) -> str | None:
        """The account's name for an EMS queue, if it has one (a scan: names are not indexed by
        queue, and dead-letter queues are looked up rarely)."""
        wanted = capabilities.id_hash(queue_id)
        async for entry in self.entries(namespace):
            if entry.queue_hash == wanted:
                return entry.name
        return None

    async def touch(
        self, entry: SqsQueue, tags: dict[str, str] | None = None, policy: str | None = None
    ) -> None:
        await self.store.update_sqs_queue(
            entry.account,
            entry.name,
            modified_at_ms=self.store.clock.now_ms(),
            tags=tags,
            policy=policy,
        )
