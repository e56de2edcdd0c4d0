"""How the SQLite store keeps a failed push's report (the rest of the webhook outbox is
:mod:`ems.storage.roles.outbox`)."""

from __future__ import annotations

from typing import Any

from ems.core.models import NewMessage
from ems.storage.roles.outbox import DeliveryOutbox
from ems.storage.rows import QueueRow
from ems.storage.sqlite.base import SqliteBase, Wake
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class DeliveryOperations(SqliteBase, DeliveryOutbox):
    async def _store_report(self, txn: Txn, queue: QueueRow, report: NewMessage) -> None:
        rows: list[tuple[Any, ...]] = []
        wake: Wake = {}
        size, receivable = self._message_rows(queue, (report,), txn.now_ms, rows)
        txn.conn.execute(Q["force_storage"], (1, size, queue.record.key))
        if receivable:
            wake[queue.record.key] = receivable
        self._insert_messages(txn, rows, wake)
