"""The names the SQS and SNS APIs keep (:mod:`ems.sqs`, :mod:`ems.sns`): parts of
:class:`ems.storage.base.Store` (implemented once, :mod:`ems.storage.roles.sqs_names` and
:mod:`ems.storage.roles.sns_names`)."""

from __future__ import annotations

import abc
from collections.abc import Mapping

from ems.core.models import (
    SqsQueue,
)
from ems.core.sns_models import SnsTopic


class SqsNameStore(abc.ABC):
    """Each account's SQS queue names, each naming an EMS queue."""

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


class SnsNameStore(abc.ABC):
    """Each account's SNS topic names, each naming an EMS topic, and the values SNS keeps."""

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
