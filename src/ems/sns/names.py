"""Topic names and ARNs, and the EMS topic each name stands for.

A topic ARN is ``arn:aws:sns:{region}:{account}:{name}``; a subscription ARN adds
``:{subscription id}``. Topics are per account and region, as SQS queues are (the region of the
request's SigV4 scope; :attr:`ems.sqs.names.Caller.namespace`). The store keeps, per
(``account/region``, name), the EMS topic's id sealed under a server secret (as
:class:`ems.sqs.registry.Registry` keeps queue ids).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ems.core import capabilities
from ems.core.errors import TopicNotFound
from ems.core.sns_models import SnsTopic
from ems.core.sns_topics import SnsTopicService
from ems.sns.fifo import FIFO_NAME_ERROR
from ems.sns.wire import invalid, not_found
from ems.sqs.names import Caller

NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_NAME: Final = 256
_TOPIC_ARN: Final = re.compile(r"arn:aws:sns:([a-z0-9-]*):([0-9]{12}):([A-Za-z0-9_.-]{1,256})")
_SUBSCRIPTION_ARN: Final = re.compile(
    r"arn:aws:sns:([a-z0-9-]*):([0-9]{12}):([A-Za-z0-9_-]{1,256}(?:\.fifo)?):([A-Za-z0-9_-]{1,64})"
)


def is_topic_name(name: str) -> bool:
    """Whether a standard or FIFO topic could have this name (for tokens naming one)."""
    return NAME.fullmatch(name.removesuffix(".fifo")) is not None


def topic_arn(caller: Caller, name: str) -> str:
    return f"arn:aws:sns:{caller.region}:{caller.account}:{name}"


@dataclass(frozen=True, slots=True)
class TopicName:
    region: str
    account: str
    name: str

    @property
    def namespace(self) -> str:
        return f"{self.account}/{self.region}"

    def visible_to(self, caller: Caller) -> bool:
        return (self.account, self.region) == (caller.account, caller.region)


@dataclass(frozen=True, slots=True)
class SubscriptionName:
    topic: TopicName
    subscription_id: str


def parse_topic_arn(arn: object, parameter: str = "TopicArn") -> TopicName:
    """The parts of a topic ARN; InvalidParameter if it is not one."""
    match = _TOPIC_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise invalid(parameter)
    return TopicName(match.group(1), match.group(2), match.group(3))


def parse_subscription_arn(arn: object) -> SubscriptionName:
    match = _SUBSCRIPTION_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise invalid("SubscriptionArn")
    return SubscriptionName(
        TopicName(match.group(1), match.group(2), match.group(3)), match.group(4)
    )


class Topics:
    """Each account's topic names, and the EMS topic each name stands for."""

    page_size: Final = 100

    def __init__(self, service: SnsTopicService, secret: bytes) -> None:
        self.service = service
        self.store = service.store
        self._secret = secret.hex()

    def _owner(self, account: str) -> str:
        return f"ems/sns/{self._secret}/{account}"

    def topic_id(self, entry: SnsTopic) -> str:
        topic_id = capabilities.unseal(self._owner(entry.account), entry.sealed_topic_id)
        if topic_id is None:
            raise not_found()
        return topic_id

    async def find(self, account: str, name: str) -> tuple[SnsTopic, str]:
        """The name's entry and its EMS topic id (``account`` is a caller's namespace,
        ``account/region``); NotFound if either is gone."""
        entry = await self.store.get_sns_topic(account, name)
        if entry is None:
            raise not_found()
        topic_id = self.topic_id(entry)
        try:
            await self.service.get_topic(topic_id)
        except TopicNotFound:
            await self.store.delete_sns_topic(account, name)
            raise not_found() from None
        return entry, topic_id

    async def by_arn(
        self, caller: Caller, arn: object, parameter: str = "TopicArn"
    ) -> tuple[SnsTopic, str]:
        topic = parse_topic_arn(arn, parameter)
        if not topic.visible_to(caller):
            # other accounts' (and regions') topics are not visible: as a missing topic
            raise not_found()
        return await self.find(caller.namespace, topic.name)

    async def add(
        self,
        caller: Caller,
        name: str,
        topic_id: str,
        attributes: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> tuple[SnsTopic, bool]:
        """Record the name for a new EMS topic; (entry, False) if it was taken meanwhile."""
        entry = SnsTopic(
            caller.namespace,
            name,
            capabilities.id_hash(topic_id),
            capabilities.seal(self._owner(caller.namespace), topic_id),
            dict(attributes),
            dict(tags),
            self.store.clock.now_ms(),
        )
        stored = await self.store.add_sns_topic(entry)
        return stored, stored.topic_hash == entry.topic_hash


def check_name(name: object, *, fifo: bool = False) -> str:
    """A topic name as SNS takes it: a FIFO topic's ends with ``.fifo``, a standard one's not."""
    if not isinstance(name, str) or not name:
        raise invalid("Name")
    if fifo:
        base = name.removesuffix(".fifo")
        if base == name or not NAME.fullmatch(base) or len(name) > MAX_NAME:
            raise invalid("Topic Name", FIFO_NAME_ERROR)
        return name
    if name.endswith(".fifo"):
        raise invalid("Topic Name")  # as SNS: a .fifo name without FifoTopic=true
    if not NAME.fullmatch(name):
        raise invalid(
            "Topic Name",
            "Topic names must be made up of only uppercase and lowercase ASCII letters, "
            "numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
        )
    return name
