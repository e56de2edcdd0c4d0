"""The SNS endpoint: SNS's Query requests on ``POST /`` (beside SQS's), and the GETs SNS's
messages link to: ``SubscribeURL`` and ``UnsubscribeURL`` (``/?Action=...``) and the signing
certificate (``SigningCertURL``).

A ``POST /`` is SNS's when its SigV4 credential scope names the ``sns`` service, or (unsigned,
in development mode) its form says ``Version=2010-03-31``. It is authenticated exactly as an SQS
request (:class:`~ems.sqs.handler.SqsApi`: the same credentials, accounts and development mode).
The GETs carry no credentials, as in SNS: the confirmation token and the subscription ARN (whose
last part is a random subscription id) are the capabilities.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from ems.asgi import PathArgs, Receive, Scope, Send, header, respond
from ems.core import errors as ems
from ems.core.queues import QueueService
from ems.core.sns_topics import SnsTopicService
from ems.sns import wire
from ems.sns.names import Topics
from ems.sns.publishing import CERT_PATH, PublishActions, Stamp
from ems.sns.signing import Signer
from ems.sns.subscription_actions import SubscriptionActions
from ems.sns.topic_actions import TopicActions
from ems.sqs import wire as sqs_wire
from ems.sqs.errors import SqsError
from ems.sqs.names import Caller
from ems.sqs.registry import Registry

log = logging.getLogger("ems.sns")

XML_TYPE: Final = [(b"content-type", b"text/xml")]
_SNS_SCOPE: Final = re.compile(rb"Credential=[^/,]*/[0-9]{8}/[^/,]*/sns/aws4_request")
_GET_ACTIONS: Final = frozenset({"ConfirmSubscription", "Unsubscribe"})

Action = Callable[[Caller, dict[str, Any]], Awaitable[Any]]


def from_ems(failure: ems.EmsError) -> SqsError:
    """What an SNS client is told when a service below refuses."""
    detail = failure.detail
    if isinstance(failure, ems.TopicNotFound):
        return wire.not_found()
    if isinstance(failure, ems.SubscriptionNotFound):
        return wire.not_found("Subscription")
    if isinstance(failure, ems.QueueNotFound | ems.WrongCapability | ems.DeadLetterQueueNotFound):
        return wire.invalid("Endpoint", "The SQS queue does not exist")
    if isinstance(failure, ems.MessageTooLarge):
        return wire.invalid("Message too long")
    if isinstance(failure, ems.QuotaExceeded):
        return wire.error("TopicLimitExceeded", detail)
    if isinstance(failure, ems.RateLimited):
        return wire.error("Throttled", detail)
    if isinstance(failure, ems.StorageUnavailable):
        return wire.error("ServiceUnavailable", detail)
    if isinstance(failure, ems.InvalidRequest | ems.RequestTooLarge):
        return wire.invalid(detail)
    return wire.error("InternalError", "The request could not be completed; retry it.")


class SnsApi:
    def __init__(
        self, topics: SnsTopicService, queues: QueueService, signer: Signer, secret: bytes,
        sqs_secret: bytes,
    ) -> None:  # fmt: skip
        self.signer = signer
        names = Topics(topics, secret)
        stamp = Stamp(signer)
        topic_actions = TopicActions(topics, names)
        self.subscriptions = SubscriptionActions(topics, names, Registry(queues, sqs_secret), stamp)
        publish = PublishActions(topics, names, stamp)
        self.actions: dict[str, Action] = {
            "CreateTopic": topic_actions.create_topic,
            "DeleteTopic": topic_actions.delete_topic,
            "ListTopics": topic_actions.list_topics,
            "GetTopicAttributes": topic_actions.get_topic_attributes,
            "SetTopicAttributes": topic_actions.set_topic_attributes,
            "TagResource": topic_actions.tag_resource,
            "UntagResource": topic_actions.untag_resource,
            "ListTagsForResource": topic_actions.list_tags_for_resource,
            "Subscribe": self.subscriptions.subscribe,
            "ConfirmSubscription": self.subscriptions.confirm_subscription,
            "Unsubscribe": self.subscriptions.unsubscribe,
            "ListSubscriptions": self.subscriptions.list_subscriptions,
            "ListSubscriptionsByTopic": self.subscriptions.list_subscriptions_by_topic,
            "GetSubscriptionAttributes": self.subscriptions.get_subscription_attributes,
            "SetSubscriptionAttributes": self.subscriptions.set_subscription_attributes,
            "Publish": publish.publish,
            "PublishBatch": publish.publish_batch,
        }

    @classmethod
    async def create(cls, topics: SnsTopicService, queues: QueueService) -> SnsApi:
        store = topics.store
        return cls(
            topics,
            queues,
            await Signer.load(store),
            await store.server_secret("sns"),
            await store.server_secret("sqs"),
        )

    @staticmethod
    def claims(scope: Scope, body: bytes) -> bool:
        """Whether a ``POST /`` in the Query protocol is SNS's rather than SQS's."""
        authorization = header(scope, b"authorization")
        if authorization is not None:
            return _SNS_SCOPE.search(authorization) is not None
        return any(
            key == "Version" and value == wire.VERSION
            for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        )

    @staticmethod
    def claims_get(method: str, parts: list[str], query: bytes) -> bool:
        """``GET /?Action=ConfirmSubscription|Unsubscribe...`` and the certificate."""
        if method != "GET":
            return False
        if parts == [""]:
            return any(k == "Action" and v in _GET_ACTIONS for k, v in _query(query))
        return len(parts) == 3 and parts[:2] == ["ems", "sns"] and parts[2].endswith(".pem")

    async def handle(
        self, send: Send, body: bytes, query: bytes, caller: Callable[[], Caller], request_id: str
    ) -> int:
        action = ""
        try:
            call = sqs_wire.parse(sqs_wire.Protocol.QUERY, None, body, query)
            action = call.action
            method = self.actions.get(action)
            if method is None:
                raise wire.error("InvalidAction", f"EMS does not support the SNS action {action}.")
            result = await method(caller(), wire.collections(call.params))
            return await self._answer(send, action, result, request_id)
        except SqsError as failure:
            return await self.error(send, failure, request_id)
        except ems.EmsError as failure:
            return await self.error(send, from_ems(failure), request_id)
        except Exception:
            log.exception("unhandled error in SNS action %s", action or "(unparsed)")
            internal = wire.error("InternalError", "The request could not be completed; retry it.")
            return await self.error(send, internal, request_id)

    async def handle_get(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        if "certificate" in path:
            if path["certificate"] != self.signer.certificate_file:
                return await respond(send, 404, b"Not Found", [(b"content-type", b"text/plain")])
            headers = [(b"content-type", b"application/x-x509-ca-cert"),
                       (b"cache-control", b"public, max-age=86400")]  # fmt: skip
            return await respond(send, 200, self.signer.certificate_pem, headers)
        params = dict(_query(scope["query_string"]))
        action = params.pop("Action")
        request_id = _request_id()
        try:
            if action == "ConfirmSubscription":
                result = await self.subscriptions.confirm_subscription(None, params)
            else:
                result = await self.subscriptions.unsubscribe(None, params)
            return await self._answer(send, action, result, request_id)
        except SqsError as failure:
            return await self.error(send, failure, request_id)
        except ems.EmsError as failure:
            return await self.error(send, from_ems(failure), request_id)

    @staticmethod
    async def _answer(send: Send, action: str, result: Any, request_id: str) -> int:
        document = wire.xml_document(action, result, request_id)
        ids = [(b"x-amzn-requestid", request_id.encode())]
        return await respond(send, 200, document, XML_TYPE + ids)

    @staticmethod
    async def error(send: Send, failure: SqsError, request_id: str) -> int:
        headers = [*XML_TYPE, (b"x-amzn-requestid", request_id.encode())]
        return await respond(send, failure.status, wire.xml_error(failure, request_id), headers)

    @staticmethod
    def certificate_route() -> str:
        return CERT_PATH + "{certificate}"


def _query(query: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(query.decode(), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return []


def _request_id() -> str:
    return str(uuid.uuid4())
