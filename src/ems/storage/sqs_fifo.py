"""What the SQS API's FIFO queues need of a store beyond the native FIFO queues: receive attempts
(:mod:`ems.core.receive_attempts`), the sequence numbers of sends, and FIFO settings changed
after creation (SetQueueAttributes; the native API sets them at creation only). Part of
:class:`ems.storage.base.Store`; each driver implements it in its ``sqs_fifo`` module."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ems.core.fifo import FifoSettings
from ems.core.models import StoredMessage


class SqsFifoStorage(abc.ABC):
    @abc.abstractmethod
    async def record_receive_attempt(
        self,
        queue_hash: bytes,
        attempt_hash: bytes,
        messages: Sequence[StoredMessage],
        window_ms: int,
    ) -> None:
        """Remember what a receive with this attempt id answered (replacing what an earlier
        attempt with the id recorded), for ``window_ms``; forgets expired attempts."""

    @abc.abstractmethod
    async def replay_receive_attempt(
        self, queue_hash: bytes, attempt_hash: bytes, visibility_timeout: int | None
    ) -> list[StoredMessage] | None:
        """The messages a recorded, unexpired attempt answered, their visibility timeout
        started again (``visibility_timeout``, else the queue's), if none of them changed since
        (:func:`ems.core.attempt_rules.unchanged`); None (and the attempt forgotten)
        otherwise."""

    @abc.abstractmethod
    async def sequence_numbers(
        self, queue_hash: bytes, sent: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        """Per (group id, message id) sent to a FIFO queue, the message's seq; None if gone."""

    @abc.abstractmethod
    async def set_fifo_settings(self, queue_hash: bytes, settings: FifoSettings) -> None:
        """Replace a FIFO queue's settings (on every node); a standard queue is left alone."""
