"""What the admin console and the operator's endpoints read of a store: part of
:class:`ems.storage.base.Store`."""

from __future__ import annotations

import abc

from ems.core.models import (
    QueuePage,
    QueueSummary,
    StoreTotals,
    TopicSummary,
)


class AdminReads(abc.ABC):
    """Reads across every queue and topic."""

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
