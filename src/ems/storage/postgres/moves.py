"""How the PostgreSQL store relocates the messages of a move step (the rest of move tasks is
:mod:`ems.storage.roles.moves`): counters settle at the end of the batch, in queue-key order."""

from __future__ import annotations

from ems.storage.postgres.base import PostgresBase
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.roles.moves import MoveTasks, Relocation


class MoveTaskOperations(PostgresBase, MoveTasks):
    async def _relocate(self, txn: Txn, moves: Relocation) -> None:
        for key, (count, size) in moves.added.items():
            txn.adjust(key, count, size)
        await txn.conn.execute(Q["delete_moved"], moves.seqs)
        # renumbered by the sequence
        await self._insert_messages(txn, moves.inserts, {}, moves.wake)
        txn.adjust(moves.source_key, -len(moves.seqs), -moves.removed_bytes)
