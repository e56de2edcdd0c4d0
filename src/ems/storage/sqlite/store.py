"""SqliteStore: the embedded default, one SQLite file in WAL mode.

Writes go through the :class:`~ems.storage.sqlite.writer.GroupCommitWriter` (shared fsync'd
transactions); reads that need no transaction (stats, peek, cache misses) run on a small pool of
read-only connections, which WAL lets proceed while the writer commits. The operations live in
one module per concern; this class puts them together.
"""

from __future__ import annotations

from ems.storage.base import Store
from ems.storage.roles.queues import QueueLifecycle
from ems.storage.roles.sns_names import SnsNames
from ems.storage.roles.sqs_fifo import SqsFifo
from ems.storage.roles.sqs_names import SqsNames
from ems.storage.roles.topics import Topics
from ems.storage.sqlite.admin import AdminOperations
from ems.storage.sqlite.deliveries import DeliveryOperations
from ems.storage.sqlite.idempotency import IdempotencyOperations
from ems.storage.sqlite.messages import MessageOperations
from ems.storage.sqlite.moves import MoveTaskOperations
from ems.storage.sqlite.opening import DataDirInUse
from ems.storage.sqlite.queues import QueueOperations
from ems.storage.sqlite.topics import TopicOperations


class SqliteStore(
    QueueOperations,
    IdempotencyOperations,
    MessageOperations,
    TopicOperations,
    DeliveryOperations,
    AdminOperations,
    MoveTaskOperations,
    # written once for every driver (after the driver's classes, which they build on)
    QueueLifecycle,
    Topics,
    SqsNames,
    SnsNames,
    SqsFifo,
    Store,
):
    """The embedded store. See the module docstrings of ``ems.storage.sqlite.*``."""


__all__ = ["DataDirInUse", "SqliteStore"]
