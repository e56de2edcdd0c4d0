"""The topic actions: create, delete, list, attributes, tags."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from ems.core.sns_models import SnsTopic
from ems.core.sns_topics import SnsTopicService
from ems.sns import delivery_policy, fifo
from ems.sns.names import Topics, check_name, is_topic_name, parse_topic_arn, topic_arn
from ems.sns.wire import error, invalid
from ems.sqs.errors import SqsError
from ems.sqs.names import Caller

MAX_TAGS: Final = 50
MAX_DISPLAY_NAME: Final = 100
MAX_POLICY_BYTES: Final = 30 * 1024
SETTABLE: Final = frozenset(
    {"DisplayName", "Policy", "DeliveryPolicy", "SignatureVersion", "TracingConfig"}
)
UNSUPPORTED: Final = frozenset(
    {"KmsMasterKeyId", "ArchivePolicy", "DataProtectionPolicy",
     "ApplicationSuccessFeedbackRoleArn", "HTTPSuccessFeedbackRoleArn",
     "HTTPFailureFeedbackRoleArn", "SQSSuccessFeedbackRoleArn", "SQSFailureFeedbackRoleArn"}
)  # fmt: skip
FIFO_ATTRIBUTES: Final = frozenset({"ContentBasedDeduplication", "FifoThroughputScope"})


def check_attribute(name: str, value: object, *, fifo_topic: bool, creating: bool) -> str | None:
    """The value to keep for a topic attribute (None: not kept), or InvalidParameter."""
    if not isinstance(value, str):
        raise invalid("AttributeValue")
    if name == "FifoTopic":
        if not creating:  # as SNS: a topic's type is chosen once
            raise invalid("AttributeName")
        if value.lower() not in ("true", "false"):
            raise invalid("FifoTopic")
        return "true" if value.lower() == "true" else None
    if name in FIFO_ATTRIBUTES:
        return fifo.check_attribute(name, value, fifo=fifo_topic)
    if name in UNSUPPORTED:
        raise invalid("AttributeName", f"EMS does not support the topic attribute {name}")
    if name not in SETTABLE:
        raise invalid("AttributeName")
    if name == "DisplayName" and len(value) > MAX_DISPLAY_NAME:
        raise invalid("DisplayName", "DisplayName must be at most 100 characters")
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid("SignatureVersion", "SignatureVersion must be 1 or 2")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise invalid("TracingConfig", "TracingConfig must be PassThrough or Active")
    if name == "DeliveryPolicy" and value:
        delivery_policy.check_topic_policy(value)
    if name == "Policy" and value:
        try:
            policy = json.loads(value)
        except (ValueError, RecursionError):
            raise invalid("Policy", "The policy is not valid JSON") from None
        if not isinstance(policy, dict) or len(value.encode()) > MAX_POLICY_BYTES:
            raise invalid("Policy", "The policy must be a JSON object of at most 30 KB")
    return value


def check_tags(tags: object) -> dict[str, str]:
    if tags is None or tags == "":
        return {}
    if not isinstance(tags, list):
        raise invalid("Tags")
    checked: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key") if isinstance(tag, dict) else None
        value = tag.get("Value", "") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise invalid("Tags", "Tag keys must be 1 to 128 characters and not start with aws:")
        if not isinstance(value, str) or len(value) > 256:
            raise invalid("Tags", "Tag values must be at most 256 characters")
        checked[key] = value
    return checked


def _token(value: object) -> str:
    if value is None or value == "":
        return ""
    try:
        name = base64.urlsafe_b64decode(str(value).encode()).decode()
    except (binascii.Error, ValueError):
        raise invalid("NextToken") from None
    if not is_topic_name(name):
        raise invalid("NextToken")
    return name


def next_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


class TopicActions:
    def __init__(self, service: SnsTopicService, topics: Topics) -> None:
        self.service = service
        self.topics = topics

    async def create_topic(self, caller: Caller, params: dict[str, Any]) -> Any:
        given = params.get("Attributes") or {}
        if not isinstance(given, dict):
            raise invalid("Attributes")
        fifo_topic = str(given.get("FifoTopic", "")).lower() == "true"
        name = check_name(params.get("Name"), fifo=fifo_topic)
        attributes = {}
        for key, value in given.items():
            kept = check_attribute(key, value, fifo_topic=fifo_topic, creating=True)
            if kept is not None:
                attributes[key] = kept
        tags = check_tags(params.get("Tags"))
        if len(tags) > MAX_TAGS:
            raise _tag_limit()
        existing = await self.topics.store.get_sns_topic(caller.namespace, name)
        if existing is None:
            native = {"fifo": True} if fifo_topic else None  # SNS keys FIFO publishes itself
            view = await self.service.create_topic(native, owner=f"sns:{caller.access_key}")
            existing, added = await self.topics.add(caller, name, view.topic_id, attributes, tags)
            if added:
                return {"TopicArn": topic_arn(caller, name)}
            await self.service.delete_topic(view.topic_id)  # another request won the name
        _check_same(existing, attributes, tags)
        return {"TopicArn": topic_arn(caller, name)}

    async def delete_topic(self, caller: Caller, params: dict[str, Any]) -> Any:
        topic = parse_topic_arn(params.get("TopicArn"))
        if not topic.visible_to(caller):
            raise error("AuthorizationError", "Not authorized to delete this topic")
        try:
            _, topic_id = await self.topics.find(caller.namespace, topic.name)
        except SqsError:
            return None  # deleting a missing topic succeeds, as in SNS
        await self.service.delete_topic(topic_id)
        await self.topics.store.delete_sns_topic(caller.namespace, topic.name)
        return None

    async def list_topics(self, caller: Caller, params: dict[str, Any]) -> Any:
        after = _token(params.get("NextToken"))
        page = await self.topics.store.list_sns_topics(
            caller.namespace, after=after, limit=Topics.page_size
        )
        result: dict[str, Any] = {"Topics": [{"TopicArn": topic_arn(caller, e.name)} for e in page]}
        if len(page) == Topics.page_size:
            result["NextToken"] = next_token(page[-1].name)
        return result

    async def get_topic_attributes(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry, topic_id = await self.topics.by_arn(caller, params.get("TopicArn"))
        subscriptions = await self.service.subscriptions(topic_id)
        pending = sum(1 for s in subscriptions if s.status.value != "confirmed")
        arn = topic_arn(caller, entry.name)
        attributes = {
            "TopicArn": arn,
            "Owner": caller.account,
            "DisplayName": "",
            "Policy": json.dumps(_default_policy(arn, caller.account)),
            "SignatureVersion": "1",
            "TracingConfig": "PassThrough",
            **(_FIFO_DEFAULTS if fifo.is_fifo(entry.attributes) else {}),
            **entry.attributes,
            "SubscriptionsConfirmed": str(len(subscriptions) - pending),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": json.dumps(_effective_policy(entry)),
        }
        return {"Attributes": attributes}

    async def set_topic_attributes(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry, _ = await self.topics.by_arn(caller, params.get("TopicArn"))
        name = params.get("AttributeName")
        if not isinstance(name, str) or not name:
            raise invalid("AttributeName")
        value = check_attribute(
            name,
            params.get("AttributeValue", ""),
            fifo_topic=fifo.is_fifo(entry.attributes),
            creating=False,
        )
        attributes = dict(entry.attributes)
        if value is not None:
            attributes[name] = value
        await self.topics.store.update_sns_topic(
            entry.account, entry.name, attributes=attributes, tags=entry.tags
        )
        return None

    async def _tagged(self, caller: Caller, params: dict[str, Any]) -> SnsTopic:
        try:
            entry, _ = await self.topics.by_arn(caller, params.get("ResourceArn"), "ResourceArn")
        except SqsError as failure:
            if failure.code == "NotFound":
                raise error("ResourceNotFound", "Resource does not exist") from None
            raise
        return entry

    async def tag_resource(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry = await self._tagged(caller, params)
        tags = {**entry.tags, **check_tags(params.get("Tags"))}
        if len(tags) > MAX_TAGS:
            raise _tag_limit()
        await self.topics.store.update_sns_topic(
            entry.account, entry.name, attributes=entry.attributes, tags=tags
        )
        return {}

    async def untag_resource(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry = await self._tagged(caller, params)
        keys = params.get("TagKeys") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise invalid("TagKeys")
        tags = {k: v for k, v in entry.tags.items() if k not in keys}
        await self.topics.store.update_sns_topic(
            entry.account, entry.name, attributes=entry.attributes, tags=tags
        )
        return {}

    async def list_tags_for_resource(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry = await self._tagged(caller, params)
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(entry.tags.items())]}


def _tag_limit() -> SqsError:
    return error(
        "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded"
    )


def _check_same(entry: SnsTopic, attributes: Mapping[str, str], tags: Mapping[str, str]) -> None:
    defaults = {**_DEFAULTS, **_FIFO_DEFAULTS}
    if any(entry.attributes.get(k, defaults.get(k)) != v for k, v in attributes.items()):
        raise invalid("Attributes", "Topic already exists with different attributes")
    if tags and dict(tags) != dict(entry.tags):
        raise invalid("Tags", "Topic already exists with different tags")


_DEFAULTS: Final = {"DisplayName": "", "SignatureVersion": "1", "TracingConfig": "PassThrough"}
_FIFO_DEFAULTS: Final = {"ContentBasedDeduplication": "false", "FifoThroughputScope": "Topic"}


def _effective_policy(entry: SnsTopic) -> dict[str, Any]:
    text = entry.attributes.get("DeliveryPolicy")
    retry = delivery_policy.check_topic_policy(text) if text else {}
    policy: dict[str, Any] = json.loads(json.dumps(delivery_policy.DEFAULT_TOPIC_POLICY))
    policy["http"]["defaultHealthyRetryPolicy"].update(retry)
    return policy


def _default_policy(arn: str, account: str) -> dict[str, Any]:
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
                "Resource": arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            }
        ],
    }


def topic_retry(entry: SnsTopic) -> dict[str, Any]:
    """The topic's default retry policy for its HTTP(S) subscriptions."""
    text = entry.attributes.get("DeliveryPolicy")
    return delivery_policy.check_topic_policy(text) if text else {}
