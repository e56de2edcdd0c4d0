"""The subscription actions: subscribe, confirm, unsubscribe, list, attributes.

An SNS subscription is an EMS subscription: ``sqs`` to an EMS queue named by its SQS ARN,
``http``/``https`` to a webhook that must confirm through ``SubscribeURL`` (a GET), ``email``/
``email-json`` to an address that confirms through EMS's confirmation mail, as a native email
subscription (delivery/email.py) does. What SNS adds
(raw delivery, the signed confirmation, the ARN, the policies as given) is kept in its
:class:`~ems.core.sns_models.SnsSubscription`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from typing import Any, Final
from urllib.parse import quote

from ems.core.errors import ConfirmationNotFound, EmsError, SubscriptionNotFound
from ems.core.filter_policy import FilterPolicy, FilterScope, InvalidFilterPolicy
from ems.core.sns_models import SnsSubscription
from ems.core.sns_topics import SnsTopicService
from ems.core.topic_models import DeliveryPolicy, Status, SubscriptionRecord
from ems.sns import delivery_policy, fifo
from ems.sns.names import (
    SubscriptionName,
    Topics,
    is_topic_name,
    parse_subscription_arn,
    topic_arn,
)
from ems.sns.publishing import Stamp
from ems.sns.topic_actions import topic_retry
from ems.sns.wire import error, invalid, not_found
from ems.sqs.errors import SqsError
from ems.sqs.names import Caller, name_from_arn
from ems.sqs.registry import Registry

PAGE: Final = 100
PENDING: Final = "pending confirmation"  # what Subscribe answers
LISTED_PENDING: Final = "PendingConfirmation"  # what the listings say (SNS writes both)
PROTOCOLS: Final = frozenset({"sqs", "http", "https", "email", "email-json"})
EMAIL_PROTOCOLS: Final = frozenset({"email", "email-json"})
SUBSCRIPTION_ATTRIBUTES: Final = frozenset(
    {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy"}
)


def _filter(text: str | None, scope: str) -> FilterPolicy | None:
    try:
        chosen = FilterScope(scope)
    except ValueError:
        raise invalid("FilterPolicyScope", "must be MessageAttributes or MessageBody") from None
    if text is None or text.strip() in ("", "{}"):
        return None
    try:
        return FilterPolicy.from_json(text, chosen)
    except InvalidFilterPolicy as failure:
        raise error(
            "InvalidParameter", f"Invalid parameter: FilterPolicy: {failure.reason}"
        ) from None


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, str) or value.lower() not in ("true", "false"):
        raise invalid(name, f"{name}: Invalid value [{value}]. Must be true or false.")
    return value.lower() == "true"


class SubscriptionActions:
    def __init__(self, service: SnsTopicService, topics: Topics, queues: Registry, stamp: Stamp):
        self.service = service
        self.topics = topics
        self.queues = queues
        self.stamp = stamp

    async def _queue_id(self, caller: Caller, arn: object, parameter: str) -> str:
        try:
            _, queue_id = await self.queues.find(caller.namespace, name_from_arn(caller, arn))
        except SqsError:
            raise invalid(parameter, f"{parameter} is not an SQS queue of this account") from None
        return queue_id

    async def subscribe(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry, topic_id = await self.topics.by_arn(caller, params.get("TopicArn"))
        protocol = params.get("Protocol")
        if not isinstance(protocol, str) or not protocol:
            raise invalid("Protocol")
        protocol = protocol.lower()
        if protocol not in PROTOCOLS:
            raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        endpoint = params.get("Endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise invalid("Endpoint")
        attributes = params.get("Attributes") or {}
        if not isinstance(attributes, dict) or not all(
            isinstance(v, str) for v in attributes.values()
        ):
            raise invalid("Attributes")
        for name in attributes:
            if name not in SUBSCRIPTION_ATTRIBUTES:
                raise invalid("Attributes", f"Unknown attribute {name}")
        if "DeliveryPolicy" in attributes and protocol not in ("http", "https"):
            raise invalid("DeliveryPolicy", "Delivery policy is only for HTTP(S) endpoints")
        raw = _boolean("RawMessageDelivery", attributes.get("RawMessageDelivery", "false"))
        scope = attributes.get("FilterPolicyScope", FilterScope.ATTRIBUTES.value)
        policy = _filter(attributes.get("FilterPolicy"), scope)
        redrive = attributes.get("RedrivePolicy")
        dead_letter_arn = delivery_policy.dead_letter_arn(redrive) if redrive else None
        dead_letter_id = (
            await self._queue_id(caller, dead_letter_arn, "RedrivePolicy")
            if dead_letter_arn
            else None
        )
        retry = delivery_policy.check_subscription_policy(attributes.get("DeliveryPolicy", "{}"))
        arn = topic_arn(caller, entry.name)
        queue_id = url = email = None
        if protocol == "sqs":
            queue_id = await self._queue_id(caller, endpoint, "SQS endpoint ARN")
        elif protocol in EMAIL_PROTOCOLS:
            email = endpoint  # checked (and refused without SMTP) by the service
        elif not endpoint.lower().startswith(f"{protocol}://"):
            raise invalid("Endpoint", "Endpoint must match the specified protocol")
        else:
            url = endpoint

        def settings(subscription_id: str, token: str | None) -> SnsSubscription:
            subscription_arn = f"{arn}:{subscription_id}"
            confirmation = None
            if token is not None:
                subscribe_url = (
                    f"{caller.base_url}/?Action=ConfirmSubscription&TopicArn={quote(arn, safe='')}"
                    f"&Token={token}"
                )
                confirmation = self.stamp.confirmation(
                    caller.base_url, arn, token, subscribe_url, entry
                )
            return SnsSubscription(
                subscription_arn=subscription_arn,
                topic_arn=arn,
                protocol=protocol,
                owner=caller.account,
                endpoint=endpoint,
                raw=raw,
                filter_policy_scope=scope,
                unsubscribe_url=(
                    f"{caller.base_url}/?Action=Unsubscribe&SubscriptionArn="
                    f"{quote(subscription_arn, safe='')}"
                ),
                confirmation=confirmation,
                delivery_policy=attributes.get("DeliveryPolicy"),
                redrive_policy=redrive,
            )

        queue_fifo = None if queue_id is None else await self.service.queue_is_fifo(queue_id)
        fifo.check_subscription(fifo.is_fifo(entry.attributes), protocol, queue_fifo)
        delivery = delivery_policy.effective(retry or topic_retry(entry))
        if protocol in EMAIL_PROTOCOLS and entry.attributes.get("DisplayName"):
            # SNS mails come from the topic's DisplayName (as of subscribing, here)
            delivery = dataclasses.replace(delivery, display_name=entry.attributes["DisplayName"])
        record = await self.service.subscribe_sns(
            topic_id,
            queue_id=queue_id,
            url=url,
            email=email,
            filter_policy=policy,
            policy=delivery,
            dead_letter_id=dead_letter_id,
            settings=settings,
        )
        confirmed = record.status is Status.CONFIRMED
        if confirmed or params.get("ReturnSubscriptionArn") in (True, "true"):
            return {"SubscriptionArn": _arn(record, arn)}
        return {"SubscriptionArn": PENDING}

    async def confirm_subscription(self, caller: Caller | None, params: dict[str, Any]) -> Any:
        """Also answers an unauthenticated GET on ``SubscribeURL`` (``caller`` None)."""
        token = params.get("Token")
        arn = params.get("TopicArn")
        if not isinstance(token, str) or not isinstance(arn, str):
            raise invalid("Token")
        try:
            record = await self.service.confirm(token)
        except ConfirmationNotFound:
            raise invalid("Token") from None
        if record.sns is None or record.sns.topic_arn.split(":")[4:] != arn.split(":")[4:]:
            raise invalid("Token")
        return {"SubscriptionArn": record.sns.subscription_arn}

    async def _find(
        self, caller: Caller | None, arn: object
    ) -> tuple[SubscriptionName, str, SubscriptionRecord]:
        name = parse_subscription_arn(arn)
        if caller is not None and not name.topic.visible_to(caller):
            raise error("AuthorizationError", "Not authorized to access this subscription")
        _, topic_id = await self.topics.find(name.topic.namespace, name.topic.name)
        try:
            record = await self.service.subscription(topic_id, name.subscription_id)
        except SubscriptionNotFound:
            raise not_found("Subscription") from None
        return name, topic_id, record

    async def unsubscribe(self, caller: Caller | None, params: dict[str, Any]) -> Any:
        """Also answers an unauthenticated GET on ``UnsubscribeURL`` (``caller`` None)."""
        try:
            name, topic_id, _ = await self._find(caller, params.get("SubscriptionArn"))
            await self.service.unsubscribe(topic_id, name.subscription_id)
        except SqsError as failure:
            if failure.code != "NotFound":
                raise
        return None

    async def list_subscriptions_by_topic(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry, topic_id = await self.topics.by_arn(caller, params.get("TopicArn"))
        after = _token(params.get("NextToken"))
        arn = topic_arn(caller, entry.name)
        records = [r for r in await self.service.subscriptions(topic_id) if r.sns is not None]
        start = next((i + 1 for i, r in enumerate(records) if r.subscription_id == after[1]), 0)
        page = records[start : start + PAGE]
        result: dict[str, Any] = {"Subscriptions": [_member(r, arn) for r in page]}
        if start + PAGE < len(records):
            result["NextToken"] = _next(entry.name, page[-1].subscription_id)
        return result

    async def list_subscriptions(self, caller: Caller, params: dict[str, Any]) -> Any:
        topic, after = _token(params.get("NextToken"))
        members: list[tuple[str, SubscriptionRecord, str]] = []
        async for entry in self._topics_from(caller.namespace, topic):
            try:
                _, topic_id = await self.topics.find(entry.account, entry.name)
                records = await self.service.subscriptions(topic_id)
            except (SqsError, EmsError):
                continue  # deleted meanwhile
            arn = topic_arn(caller, entry.name)
            if entry.name == topic and after:
                keys = [r.subscription_id for r in records]
                records = records[keys.index(after) + 1 :] if after in keys else records
            for record in records:
                if record.sns is not None:
                    members.append((entry.name, record, arn))
            if len(members) > PAGE:
                break
        page = members[:PAGE]
        result: dict[str, Any] = {"Subscriptions": [_member(r, arn) for _, r, arn in page]}
        if len(members) > PAGE:
            result["NextToken"] = _next(page[-1][0], page[-1][1].subscription_id)
        return result

    async def _topics_from(self, account: str, first: str) -> Any:
        """The account's topics from ``first`` on (inclusive), a page at a time."""
        if first:
            found = await self.topics.store.get_sns_topic(account, first)
            if found is not None:
                yield found
        after = first
        while True:
            page = await self.topics.store.list_sns_topics(account, after=after, limit=PAGE)
            for entry in page:
                yield entry
            if len(page) < PAGE:
                return
            after = page[-1].name

    async def get_subscription_attributes(self, caller: Caller, params: dict[str, Any]) -> Any:
        _, _, record = await self._find(caller, params.get("SubscriptionArn"))
        sns = _sns(record)
        pending = record.status is not Status.CONFIRMED
        attributes = {
            "SubscriptionArn": sns.subscription_arn,
            "TopicArn": sns.topic_arn,
            "Owner": sns.owner,
            "Protocol": sns.protocol,
            "Endpoint": sns.endpoint,
            "ConfirmationWasAuthenticated": "false" if sns.confirmation else "true",
            "PendingConfirmation": "true" if pending else "false",
            "RawMessageDelivery": "true" if sns.raw else "false",
            "SubscriptionRoleArn": "",
        }
        if record.filter_policy is not None:
            attributes["FilterPolicy"] = _dumps(record.filter_policy.document)
            attributes["FilterPolicyScope"] = record.filter_policy.scope.value
        if sns.redrive_policy:
            attributes["RedrivePolicy"] = sns.redrive_policy
        if sns.protocol in ("http", "https"):
            if sns.delivery_policy:
                attributes["DeliveryPolicy"] = sns.delivery_policy
            attributes["EffectiveDeliveryPolicy"] = _dumps(
                {"healthyRetryPolicy": _retry_of(record.policy)}
            )
        return {"Attributes": attributes}

    async def set_subscription_attributes(self, caller: Caller, params: dict[str, Any]) -> Any:
        name, topic_id, record = await self._find(caller, params.get("SubscriptionArn"))
        sns = _sns(record)
        attribute = params.get("AttributeName")
        value = params.get("AttributeValue", "")
        if attribute not in SUBSCRIPTION_ATTRIBUTES or not isinstance(value, str):
            raise invalid("AttributeName")
        policy = record.filter_policy
        delivery: DeliveryPolicy | None = record.policy if sns.protocol != "sqs" else None
        dead_letter_id: str | None = None
        redrive = sns.redrive_policy
        if attribute == "RawMessageDelivery":
            sns = dataclasses.replace(sns, raw=_boolean(attribute, value))
        elif attribute == "FilterPolicy":
            policy = _filter(value, sns.filter_policy_scope)
        elif attribute == "FilterPolicyScope":
            current = _dumps(policy.document) if policy is not None else None
            policy = _filter(current, value)
            sns = dataclasses.replace(sns, filter_policy_scope=value)
        elif attribute == "DeliveryPolicy":
            if sns.protocol not in ("http", "https"):
                raise invalid("DeliveryPolicy", "Delivery policy is only for HTTP(S) endpoints")
            retry = delivery_policy.check_subscription_policy(value or "{}")
            delivery = delivery_policy.effective(retry)
            sns = dataclasses.replace(sns, delivery_policy=value or None)
        else:
            redrive = value or None
        arn = delivery_policy.dead_letter_arn(redrive) if redrive else None
        if arn is not None:
            dead_letter_id = await self._queue_id(caller, arn, "RedrivePolicy")
        sns = dataclasses.replace(sns, redrive_policy=redrive)
        await self.service.update_subscription(
            topic_id,
            record,
            filter_policy=policy,
            policy=delivery,
            dead_letter_id=dead_letter_id,
            sns=sns,
        )
        del name
        return None


def _sns(record: SubscriptionRecord) -> SnsSubscription:
    if record.sns is None:
        raise not_found("Subscription")
    return record.sns


def _arn(record: SubscriptionRecord, topic: str) -> str:
    return record.sns.subscription_arn if record.sns else f"{topic}:{record.subscription_id}"


def _member(record: SubscriptionRecord, topic: str) -> dict[str, str]:
    sns = _sns(record)
    confirmed = record.status is Status.CONFIRMED
    return {
        "SubscriptionArn": sns.subscription_arn if confirmed else LISTED_PENDING,
        "Owner": sns.owner,
        "Protocol": sns.protocol,
        "Endpoint": sns.endpoint,
        "TopicArn": topic,
    }


def _retry_of(policy: DeliveryPolicy) -> dict[str, Any]:
    return {
        **delivery_policy.DEFAULT_RETRY,
        "numRetries": policy.max_attempts - 1,
        "minDelayTarget": policy.min_retry_seconds,
        "maxDelayTarget": policy.max_retry_seconds,
    }


def _dumps(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))


def _next(topic: str, subscription_id: str) -> str:
    return base64.urlsafe_b64encode(f"{topic}\n{subscription_id}".encode()).decode()


def _token(value: object) -> tuple[str, str]:
    if value is None or value == "":
        return "", ""
    try:
        topic, _, subscription_id = (
            base64.urlsafe_b64decode(str(value).encode()).decode().partition("\n")
        )
    except (binascii.Error, ValueError):
        raise invalid("NextToken") from None
    if not is_topic_name(topic):
        raise invalid("NextToken")
    return topic, subscription_id


def new_message_id() -> str:
    return str(uuid.uuid4())
