"""PostgresStore: many stateless EMS nodes on one PostgreSQL database.

Writes go through the :class:`~ems.storage.postgres.batcher.Batcher` (shared transactions),
receives claim rows with ``FOR UPDATE SKIP LOCKED``, and nodes tell each other what changed with
LISTEN/NOTIFY (:mod:`ems.storage.postgres.signals`). The operations live in one module per
concern, mirroring the SQLite store; this class puts them together.
"""

from __future__ import annotations

from ems.storage.base import Store
from ems.storage.postgres.admin import AdminOperations
from ems.storage.postgres.deliveries import DeliveryOperations
from ems.storage.postgres.housekeeping import Housekeeping
from ems.storage.postgres.idempotency import IdempotencyOperations
from ems.storage.postgres.messages import MessageOperations
from ems.storage.postgres.moves import MoveTaskOperations
from ems.storage.postgres.topics import TopicOperations
from ems.storage.roles.queues import QueueLifecycle
from ems.storage.roles.sns_names import SnsNames
from ems.storage.roles.sqs_fifo import SqsFifo
from ems.storage.roles.sqs_names import SqsNames
from ems.storage.roles.topics import Topics


class PostgresStore(
    IdempotencyOperations,
    MessageOperations,
    TopicOperations,
    DeliveryOperations,
    AdminOperations,
    MoveTaskOperations,
    Housekeeping,
    # written once for every driver (after the driver's classes, which they build on)
    QueueLifecycle,
    Topics,
    SqsNames,
    SnsNames,
    SqsFifo,
    Store,
):
    """The PostgreSQL store. See the module docstrings of ``ems.storage.postgres.*``."""
