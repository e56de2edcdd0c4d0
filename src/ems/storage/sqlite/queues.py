"""Reading a queue by id in the SQLite store, from this process's exact cache (the rest of the
queue lifecycle is :mod:`ems.storage.roles.queues`)."""

from __future__ import annotations

from ems.core.models import QueueRecord
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.lookups import lookup_queue


class QueueOperations(SqliteBase):
    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        record = self._cache.get(queue_hash)
        if record is not None:
            return record
        epoch = self._cache_epoch
        queue = await self._read(lambda conn: lookup_queue(conn, queue_hash))
        self._cache_queue(queue_hash, queue.record, epoch)
        return queue.record
