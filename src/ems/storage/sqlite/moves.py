"""How the SQLite store relocates the messages of a move step (the rest of move tasks is
:mod:`ems.storage.roles.moves`)."""

from __future__ import annotations

from ems.storage.roles.moves import MoveTasks, Relocation
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class MoveTaskOperations(SqliteBase, MoveTasks):
    async def _relocate(self, txn: Txn, moves: Relocation) -> None:
        conn = txn.conn
        conn.executemany(Q["delete_moved"], [(seq,) for seq in moves.seqs])
        self._insert_messages(txn, moves.inserts, moves.wake)
        for key, (count, size) in moves.added.items():
            conn.execute(Q["force_storage"], (count, size, key))
        self._release(txn, moves.source_key, len(moves.seqs), moves.removed_bytes)
