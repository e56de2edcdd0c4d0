"""The webhook outbox, as the dispatcher (:mod:`ems.delivery`) uses it: part of
:class:`ems.storage.base.Store` (implemented once, :mod:`ems.storage.roles.outbox`)."""

from __future__ import annotations

import abc

from ems.core.topic_models import (
    AttemptResult,
    DeliveryTask,
)


class OutboxStore(abc.ABC):
    """Pushes due, leased and recorded."""

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
