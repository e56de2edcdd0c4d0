"""How the PostgreSQL store keeps a failed push's report (the rest of the webhook outbox is
:mod:`ems.storage.roles.outbox`)."""

from __future__ import annotations

from typing import Any

from ems.core.models import NewMessage
from ems.storage.postgres.base import PostgresBase, Wake
from ems.storage.postgres.batcher import Txn
from ems.storage.roles.outbox import DeliveryOutbox
from ems.storage.rows import QueueRow


class DeliveryOperations(PostgresBase, DeliveryOutbox):
    async def _store_report(self, txn: Txn, queue: QueueRow, report: NewMessage) -> None:
        rows: list[tuple[Any, ...]] = []
        wake: Wake = {}
        size, receivable = self._message_rows(queue, (report,), txn.now_ms, rows)
        txn.adjust(queue.record.key, 1, size)  # a failure report always fits
        if receivable:
            wake[queue.record.key] = receivable
        await self._insert_messages(txn, rows, {}, wake)
