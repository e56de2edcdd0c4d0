"""The Store: the only seam between EMS's domain rules and a database.

Every method is one domain operation, atomic and durable when it returns: a backend must have
committed (and, with default settings, fsync'd) before it answers. Queues are named by the
SHA-256 of their capability id; a store never sees a working id.

Stores also report what their commits make ready: ``wakeups.notify`` when messages become
receivable (so long polls return at once) and ``deliveries_ready`` with the subscriptions that got
webhook deliveries to make (so the dispatcher pushes at once rather than at its next scan).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence

from ems.core.clock import Clock
from ems.core.idempotency import KeyedSend
from ems.core.models import (
    NewMessage,
    Outcome,
    PeekResult,
    QueueCapabilities,
    QueueChanges,
    QueueConfig,
    QueuePage,
    QueueRecord,
    QueueStats,
    QueueSummary,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    SqsQueue,
    StoreTotals,
    SweepReport,
    TopicSummary,
)
from ems.core.move_models import MoveStep, MoveTask, NewMoveTask
from ems.core.sns_models import SnsSubscription, SnsTopic
from ems.core.topic_models import (
    AttemptResult,
    DeliveryPolicy,
    DeliveryTask,
    FilterPolicy,
    NewSubscription,
    PublishResult,
    SubscriptionRecord,
    TopicConfig,
    TopicMessage,
    TopicRecord,
    TopicStats,
)
from ems.core.wakeups import Wakeups
from ems.storage.health import StorageHealth
from ems.storage.sqs_fifo import SqsFifoStorage


class StoreUnusable(RuntimeError):
    """The store cannot be opened as configured; the message tells the operator what to do."""


class Store(SqsFifoStorage, abc.ABC):
    """Abstract message store. Implementations: :mod:`ems.storage.sqlite`,
    :mod:`ems.storage.postgres`."""

    wakeups: Wakeups
    clock: Clock
    # what the last commits found: /readyz answers 503 while it records an outage
    health: StorageHealth
    # set by the webhook dispatcher; called with subscription keys after commits
    deliveries_ready: Callable[[Iterable[int]], None] | None = None
    # a store whose wakeups may miss a commit (another node's) has long polls re-check this
    # often, in seconds; None: wakeups are exact
    poll_interval: float | None = None

    @abc.abstractmethod
    async def open(self) -> None:
        """Create or migrate the schema and get ready to serve."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish what was accepted, then release every resource."""

    @abc.abstractmethod
    async def server_secret(self, name: str) -> bytes:
        """A random 32-byte secret, created on first use and the same on every node forever."""

    # queues

    @abc.abstractmethod
    async def create_queue(
        self,
        capabilities: QueueCapabilities,
        config: QueueConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> QueueRecord:
        """Raise DeadLetterQueueNotFound if ``config.dead_letter`` names no queue, and
        QuotaExceeded if ``owner`` already has ``quota`` queues."""

    @abc.abstractmethod
    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        """The queue reached by any of its ids, with the scope of that id; raise QueueNotFound.

        Every other operation also accepts any of a queue's ids: enforcing scopes is the
        service's job. May be served from a cache that is exact on this node.
        """

    @abc.abstractmethod
    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        """Approximate counts: exact as of some recent moment."""

    @abc.abstractmethod
    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord: ...

    @abc.abstractmethod
    async def rotate_queue(self, queue_hash: bytes, send_hash: bytes, receive_hash: bytes) -> None:
        """Replace the queue's send and receive ids; the old ones stop working."""

    @abc.abstractmethod
    async def delete_queue(self, queue_hash: bytes) -> None:
        """Delete a queue and its messages; queues that dead-letter into it stop doing so."""

    @abc.abstractmethod
    async def purge_queue(self, queue_hash: bytes) -> None:
        """Delete every message in the queue, at once from the clients' point of view."""

    # messages

    @abc.abstractmethod
    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        """Store all messages or none. Raise MessageTooLarge if one exceeds the queue's limit,
        and QueueFull if they would take the queue past its stored messages or bytes."""

    @abc.abstractmethod
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        """Send, storing only the messages whose key is new (or None) within ``window_ms``.

        Per message, the id of the message it repeats (None: stored). The keys of stored
        messages are remembered in the same transaction (see :mod:`ems.core.idempotency`);
        raises as :meth:`send` does, and then remembers nothing.
        """

    @abc.abstractmethod
    async def publish_idempotent(
        self, topic_hash: bytes, message: TopicMessage, key_hash: bytes, window_ms: int
    ) -> PublishResult:
        """Publish unless ``key_hash`` was used on this topic within ``window_ms``: then store
        nothing and answer the earlier message's id as ``duplicate_of``."""

    @abc.abstractmethod
    async def receive(self, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        """Claim up to ``max_messages`` visible messages, oldest first (best effort).

        Each claimed message's receive count goes up by one and it stays invisible for the
        visibility timeout. A message already received ``max_receives`` times moves to the
        dead-letter queue instead of being returned.
        """

    @abc.abstractmethod
    async def delete_messages(
        self, queue_hash: bytes, receipts: Sequence[Receipt]
    ) -> list[Outcome]: ...

    @abc.abstractmethod
    async def change_visibility(
        self, queue_hash: bytes, changes: Sequence[tuple[Receipt, int]]
    ) -> list[Outcome]:
        """Make each message invisible for the given seconds from now (0: visible now)."""

    @abc.abstractmethod
    async def peek(self, queue_hash: bytes, *, after: int | None, limit: int) -> PeekResult:
        """Browse messages in send order without changing anything."""

    # housekeeping

    @abc.abstractmethod
    async def sweep(self) -> SweepReport:
        """Delete some expired messages and leftovers of deleted queues; ``more`` if not done."""

    # topics

    @abc.abstractmethod
    async def create_topic(
        self,
        topic_hash: bytes,
        public_id: str,
        config: TopicConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> TopicRecord: ...

    @abc.abstractmethod
    async def get_topic(self, topic_hash: bytes) -> TopicRecord:
        """Raise TopicNotFound."""

    @abc.abstractmethod
    async def topic_stats(self, topic_hash: bytes) -> TopicStats: ...

    @abc.abstractmethod
    async def delete_topic(self, topic_hash: bytes) -> None:
        """Delete the topic, its subscriptions and every push not yet made."""

    @abc.abstractmethod
    async def subscribe(
        self, topic_hash: bytes, subscription: NewSubscription
    ) -> SubscriptionRecord:
        """Add a subscription, or return the existing one for the same endpoint.

        A webhook subscription waiting for confirmation gets its confirmation request queued in
        the same transaction. Raise QueueNotFound for an unknown queue or dead-letter queue.
        """

    @abc.abstractmethod
    async def list_subscriptions(self, topic_hash: bytes) -> list[SubscriptionRecord]: ...

    @abc.abstractmethod
    async def get_subscription(self, topic_hash: bytes, subscription_id: str) -> SubscriptionRecord:
        """Raise SubscriptionNotFound."""

    @abc.abstractmethod
    async def unsubscribe(self, topic_hash: bytes, subscription_id: str) -> None:
        """Delete the subscription and the pushes not yet made to it."""

    @abc.abstractmethod
    async def update_subscription(
        self,
        topic_hash: bytes,
        subscription_id: str,
        *,
        filter_policy: FilterPolicy | None,
        policy: DeliveryPolicy | None,
        dead_letter_hash: bytes | None,
        sns: SnsSubscription | None,
    ) -> SubscriptionRecord:
        """Replace what a subscription filters and how it delivers (SNS's
        SetSubscriptionAttributes); raise SubscriptionNotFound, or QueueNotFound if
        ``dead_letter_hash`` names no queue."""

    @abc.abstractmethod
    async def find_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        """The subscription with this id in any topic (for unsubscribe links, which carry no
        topic id), or None."""

    @abc.abstractmethod
    async def remove_subscription(self, subscription_id: str) -> None:
        """:meth:`unsubscribe` by the subscription's id alone; raise SubscriptionNotFound."""

    @abc.abstractmethod
    async def confirm_subscription(self, challenge: str) -> SubscriptionRecord:
        """Confirm the subscription waiting with this challenge; raise ConfirmationNotFound."""

    @abc.abstractmethod
    async def publish(self, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        """In one transaction: the message into every matching queue, one push per webhook.

        A queue that cannot take the message (too large for it, or full) is skipped and the
        failure recorded on its subscription: one subscriber must not block the others.
        """

    # webhook deliveries

    @abc.abstractmethod
    async def due_subscriptions(self, limit: int) -> list[int]:
        """Subscriptions with deliveries due now and not leased."""

    @abc.abstractmethod
    async def claim_deliveries(
        self, subscription_key: int, limit: int, lease_margin_seconds: int
    ) -> list[DeliveryTask]:
        """Lease up to ``limit`` due deliveries of a subscription, oldest first, for the
        subscription's push timeout plus ``lease_margin_seconds``: no one else attempts them
        until the lease ends."""

    @abc.abstractmethod
    async def record_attempt(self, task: DeliveryTask, result: AttemptResult) -> None:
        """Store what an attempt gave: done, retry later, or failed for good.

        A notification that failed for good goes to the subscription's dead-letter queue, if
        it names one, as a JSON envelope. A deferred result (held back by a rate limit, never
        attempted) only moves the delivery to ``retry_at_ms``: it counts as no attempt.
        """

    # administration

    @abc.abstractmethod
    async def list_queues(self, *, after: int, limit: int) -> list[QueueSummary]:
        """Queues in creation order, after internal key ``after``."""

    @abc.abstractmethod
    async def deepest_queues(self, limit: int) -> list[QueueSummary]:
        """The queues holding the most messages."""

    @abc.abstractmethod
    async def list_topics(self, *, after: int, limit: int) -> list[TopicSummary]: ...

    @abc.abstractmethod
    async def admin_queue_page(self, page: QueuePage) -> tuple[int, list[QueueSummary]]:
        """One page of queues, sorted and filtered: (how many queues match, the page)."""

    @abc.abstractmethod
    async def admin_totals(self) -> StoreTotals:
        """What the whole database holds, and where it is."""

    @abc.abstractmethod
    async def next_attempts(self, topic_hash: bytes) -> dict[int, int]:
        """Subscription key -> when its next push is due, for those of the topic with pushes
        to make; raise TopicNotFound."""

    @abc.abstractmethod
    async def retry_now(self, topic_hash: bytes, subscription_id: str) -> int:
        """Make the subscription's pushes waiting for a later attempt due now; returns how many.
        Raise TopicNotFound or SubscriptionNotFound."""

    @property
    def commit_stats(self) -> tuple[int, int, float]:
        """(transactions, operations, seconds spent committing) so far: the group-commit factor
        is operations per transaction, the commit latency seconds per transaction."""
        return (0, 0, 0.0)

    # SQS names (ems.sqs): each account's queue names, each naming an EMS queue

    @abc.abstractmethod
    async def add_sqs_queue(self, entry: SqsQueue) -> SqsQueue:
        """Record the name unless its account already has it; returns the entry stored."""

    @abc.abstractmethod
    async def get_sqs_queue(self, account: str, name: str) -> SqsQueue | None: ...

    @abc.abstractmethod
    async def list_sqs_queues(
        self, account: str, *, prefix: str = "", after: str = "", limit: int = 1000
    ) -> list[SqsQueue]:
        """The account's names starting with ``prefix`` and sorting after ``after`` (bytewise),
        in that order."""

    @abc.abstractmethod
    async def update_sqs_queue(
        self,
        account: str,
        name: str,
        *,
        modified_at_ms: int,
        tags: Mapping[str, str] | None,
        policy: str | None = None,
    ) -> None:
        """Set the time of the last change and, unless None, the tags and the policy; a missing
        name is a no-op."""

    @abc.abstractmethod
    async def delete_sqs_queue(self, account: str, name: str) -> None:
        """Forget the name (its EMS queue is the caller's business); a missing name is a no-op."""

    # SNS names (ems.sns): each account's topic names, each naming an EMS topic

    @abc.abstractmethod
    async def server_value(self, name: str, candidate: bytes) -> bytes:
        """The value kept under ``name``: ``candidate`` if there was none (the same on every
        node forever; for the SNS signing key and certificate)."""

    @abc.abstractmethod
    async def add_sns_topic(self, entry: SnsTopic) -> SnsTopic:
        """Record the name unless its account already has it; returns the entry stored."""

    @abc.abstractmethod
    async def get_sns_topic(self, account: str, name: str) -> SnsTopic | None: ...

    @abc.abstractmethod
    async def list_sns_topics(
        self, account: str, *, after: str = "", limit: int = 100
    ) -> list[SnsTopic]:
        """The account's names sorting after ``after`` (bytewise), in that order."""

    @abc.abstractmethod
    async def update_sns_topic(
        self, account: str, name: str, *, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        """Replace the attributes and tags; a missing name is a no-op."""

    @abc.abstractmethod
    async def delete_sns_topic(self, account: str, name: str) -> None:
        """Forget the name (its EMS topic is the caller's business); a missing name is a no-op."""

    # message move tasks (dead-letter redrive; the rules: ems.core.redrive)

    @abc.abstractmethod
    async def start_move_task(self, task: NewMoveTask, *, keep_finished: int) -> MoveTask:
        """Record a RUNNING task, counting the messages the source holds as its ``to_move``.

        The destination (any id hash that may send to it) is recorded by its full id's hash.
        Raise QueueNotFound (``parameter="destination"`` for the destination),
        NotADeadLetterQueue if no queue dead-letters into the source, InvalidRequest if the
        destination is the source (see :func:`ems.core.move_models.destination_of`), and
        MoveTaskRunning if the source has an active task. Forget the source's finished tasks
        beyond the newest ``keep_finished``.
        """

    @abc.abstractmethod
    async def list_move_tasks(self, source_hash: bytes, limit: int) -> list[MoveTask]:
        """The source queue's most recent tasks, newest first."""

    @abc.abstractmethod
    async def cancel_move_task(self, source_hash: bytes, handle: str | None) -> MoveTask:
        """Mark the source's RUNNING task (the one by ``handle``, if given) CANCELLING; raise
        MoveTaskNotFound if there is none."""

    @abc.abstractmethod
    async def claim_move_task(self, owner: str, lease_ms: int) -> MoveTask | None:
        """Lease an active task whose lease has ended (or that ``owner`` holds) to ``owner``
        for ``lease_ms``; None if there is none. Two claimants never get the same task."""

    @abc.abstractmethod
    async def move_messages(self, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        """One step of a task, in one transaction, if ``owner`` still holds its lease.

        Move up to ``limit`` of the source's visible messages, oldest first, each to
        :func:`~ems.core.move_models.destination_of` (renumbered, visible now, receive count
        0, sent now; body, attributes, correlation id and message id kept), add them to the
        task's count and renew the lease. The task ends COMPLETED when there is nothing left
        to move, CANCELLED when it was CANCELLING, FAILED (with the reason) when a message
        has nowhere to go or a queue is gone. ``lost`` when ``owner`` does not hold the lease.
        """

    @abc.abstractmethod
    async def release_move_tasks(self, owner: str) -> None:
        """End ``owner``'s leases now, so that the tasks are claimed again at once."""
