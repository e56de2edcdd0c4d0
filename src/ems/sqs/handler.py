"""The SQS endpoint: ``POST /`` and ``POST /{account}/{queue name}``, in either protocol.

Every response carries ``x-amzn-RequestId``; every refusal is an SQS error in the request's
protocol (JSON ``__type`` plus the ``x-amzn-query-error`` header, or a Query ErrorResponse).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ems.asgi import (
    PathArgs,
    Receive,
    Scope,
    Send,
    dumps,
    header,
    read_body,
    respond,
    watch_disconnect,
)
from ems.core.errors import EmsError, QueueNotFound
from ems.core.ids import new_message_id
from ems.core.queues import QueueService
from ems.core.redrive import Redrive
from ems.sqs import render, sigv4
from ems.sqs.accounts import Accounts
from ems.sqs.errors import SqsError, error, from_ems
from ems.sqs.message_actions import MessageActions
from ems.sqs.move_tasks import MoveTaskActions
from ems.sqs.names import Caller, is_queue_path
from ems.sqs.queue_actions import QueueActions
from ems.sqs.registry import Registry
from ems.sqs.wire import Call, Protocol, parse, protocol_of

log = logging.getLogger("ems.sqs")

# a 1 MiB message or batch, form-encoded (up to three bytes per byte), fits
MAX_REQUEST_BYTES: Final = 8 * 1024 * 1024
JSON_TYPE: Final = [(b"content-type", b"application/x-amz-json-1.0")]
XML_TYPE: Final = [(b"content-type", b"text/xml")]
# headers a proxy adds when it relays a request
_FORWARDED: Final = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})
DEV_SIGNATURE: Final = sigv4.Signed("anonymous", "", "us-east-1", "sqs", [], "")
# the actions that reach a queue through Registry.queue_id_of
_MESSAGE_ACTIONS: Final = frozenset({
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
})  # fmt: skip

Action = Callable[[Caller, dict[str, Any], list[str]], Awaitable[Any]]


class SharedEndpoint(typing.Protocol):
    """Another Query API answered at ``POST /`` (SNS, ``ems.sns.handler.SnsApi``), declared here
    so that SQS needs nothing from the package that builds on it."""

    def claims(self, scope: Scope, body: bytes) -> bool: ...

    async def handle(
        self, send: Send, body: bytes, query: bytes, caller: Callable[[], Caller], request_id: str
    ) -> int: ...


async def _no_permissions(caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
    """Permissions are refused rather than recorded: EMS decides access by its own rules (each
    access key is an account of its own), so a recorded grant would pretend to a sharing that
    does not happen. The Policy attribute, by contrast, is kept as data."""
    raise error(
        "UnsupportedOperation",
        "EMS does not grant permissions across accounts: AddPermission and RemovePermission are "
        "not supported. The Policy attribute is stored and returned, but not enforced.",
    )


class SqsApi:
    def __init__(
        self,
        service: QueueService,
        redrive: Redrive,
        accounts: Accounts,
        registry: Registry,
        public_url: str | None,
    ) -> None:
        self.accounts = accounts
        # SNS on the same endpoint (ems.sns), set by the app
        self.sns: SharedEndpoint | None = None
        self.public_url = public_url.rstrip("/") if public_url else None
        queues = QueueActions(service, registry)
        self.messages = MessageActions(service, registry)
        moves = MoveTaskActions(redrive, registry)
        self.actions: dict[str, Action] = {
            "CreateQueue": queues.create_queue,
            "GetQueueUrl": queues.get_queue_url,
            "ListQueues": queues.list_queues,
            "DeleteQueue": queues.delete_queue,
            "PurgeQueue": queues.purge_queue,
            "GetQueueAttributes": queues.get_queue_attributes,
            "SetQueueAttributes": queues.set_queue_attributes,
            "TagQueue": queues.tag_queue,
            "UntagQueue": queues.untag_queue,
            "ListQueueTags": queues.list_queue_tags,
            "ListDeadLetterSourceQueues": queues.list_dead_letter_source_queues,
            "SendMessage": self.messages.send_message,
            "SendMessageBatch": self.messages.send_message_batch,
            "DeleteMessage": self.messages.delete_message,
            "DeleteMessageBatch": self.messages.delete_message_batch,
            "ChangeMessageVisibility": self.messages.change_message_visibility,
            "ChangeMessageVisibilityBatch": self.messages.change_message_visibility_batch,
            "StartMessageMoveTask": moves.start_task,
            "ListMessageMoveTasks": moves.list_tasks,
            "CancelMessageMoveTask": moves.cancel_task,
            "AddPermission": _no_permissions,
            "RemovePermission": _no_permissions,
        }

    @classmethod
    async def create(
        cls,
        service: QueueService,
        redrive: Redrive,
        accounts: Accounts | None,
        public_url: str | None,
    ) -> SqsApi | None:
        """The SQS API, or None when it is off (see :class:`~ems.sqs.accounts.Accounts`)."""
        if accounts is None:
            return None
        registry = Registry(service, await service.store.server_secret("sqs"))
        return cls(service, redrive, accounts, registry, public_url)

    @staticmethod
    def claims(method: str, parts: list[str]) -> bool:
        return method == "POST" and (parts == [""] or is_queue_path(parts))

    @staticmethod
    def route_of(parts: list[str]) -> str:
        return "/" if parts == [""] else "/{account}/{queue_name}"

    @staticmethod
    def path_args(parts: list[str]) -> PathArgs:
        return {} if parts == [""] else {"account": parts[0], "queue_name": parts[1]}

    async def handle(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        # the actions read a queue URL's path as its parts, as they read a QueueUrl's
        parts = [path["account"], path["queue_name"]] if path else [""]
        request_id = new_message_id()  # a random UUID, as uuid.uuid4() makes but cheaper
        target = header(scope, b"x-amz-target")
        protocol = protocol_of(header(scope, b"content-type"), target)
        action = ""
        try:
            try:
                body = await read_body(scope, receive, MAX_REQUEST_BYTES)
            except EmsError as failure:
                raise error("RequestTooLarge", failure.detail) from None
            if (
                self.sns is not None
                and protocol is Protocol.QUERY
                and parts == [""]
                and self.sns.claims(scope, body)
            ):
                return await self.sns.handle(
                    send,
                    body,
                    scope["query_string"],
                    lambda: self._caller(scope, body, "sns"),
                    request_id,
                )
            caller = self._caller(scope, body)
            call = parse(protocol, target, body, scope["query_string"])
            action = call.action
            result = await self._run(caller, call, parts, receive)
            # rendered here, so that a failure to render is still an SQS error
            if protocol is Protocol.JSON:
                payload, content_type = dumps(result), JSON_TYPE
            else:
                payload, content_type = render.xml_document(action, result, request_id), XML_TYPE
        except SqsError as failure:
            return await self._error(send, protocol, failure, request_id)
        except EmsError as failure:
            return await self._error(send, protocol, from_ems(failure), request_id)
        except Exception:
            log.exception("unhandled error in SQS action %s", action or "(unparsed)")
            internal = error("InternalFailure", "The request could not be completed; retry it.")
            return await self._error(send, protocol, internal, request_id)
        ids = [(b"x-amzn-requestid", request_id.encode())]
        return await respond(send, 200, payload, content_type + ids)

    async def _run(self, caller: Caller, call: Call, parts: list[str], receive: Receive) -> Any:
        try:
            return await self._run_once(caller, call, parts, receive)
        except QueueNotFound:
            # the message calls remember each name's queue id (Registry.queue_id_of); a queue
            # deleted through another node or the native API leaves a stale one: look the
            # name up again, once (nothing was done: the queue service refused at the start)
            if call.action not in _MESSAGE_ACTIONS or not self.messages.forget_queue(
                caller, call.params, parts
            ):
                raise
            return await self._run_once(caller, call, parts, receive)

    async def _run_once(
        self, caller: Caller, call: Call, parts: list[str], receive: Receive
    ) -> Any:
        action, params = call.action, call.params
        if action == "ReceiveMessage":
            watcher = asyncio.get_running_loop().create_task(watch_disconnect(receive))
            try:
                return await self.messages.receive_message(caller, params, parts, watcher)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        method = self.actions.get(action)
        if method is None:
            shape = "UnsupportedOperation" if call.protocol is Protocol.JSON else "InvalidAction"
            raise error(shape, f"EMS does not support the action {action}.")
        return await method(caller, params, parts)

    def _caller(self, scope: Scope, body: bytes, service: str = sigv4.SERVICE) -> Caller:
        authorization = header(scope, b"authorization")
        if self.accounts.open and any(name.lower() in _FORWARDED for name, _ in scope["headers"]):
            # development mode is for clients on this machine, not for a proxy's
            raise error(
                "AccessDenied",
                "The SQS API is in development mode (no EMS_SQS_CREDENTIALS), which does not "
                "serve requests relayed by a proxy; configure EMS_SQS_CREDENTIALS.",
            )
        if self.accounts.open and authorization is None:
            signed = DEV_SIGNATURE
        else:
            signed = sigv4.parse_authorization(authorization)
            secret = self.accounts.secret_of(signed)
            if secret is not None:
                sigv4.verify(
                    signed,
                    secret,
                    method=scope["method"],
                    path=scope.get("raw_path") or scope["path"].encode(),
                    query=scope["query_string"],
                    headers=scope["headers"],
                    body=body,
                    service=service,
                )
        return Caller(
            self.accounts.account(signed), signed.access_key, signed.region, self._base(scope)
        )

    def _base(self, scope: Scope) -> str:
        if self.public_url is not None:
            return self.public_url
        host = (header(scope, b"host") or b"localhost").decode("latin-1")
        return f"{scope.get('scheme', 'http')}://{host}"

    @staticmethod
    async def _error(send: Send, protocol: Protocol, failure: SqsError, request_id: str) -> int:
        headers = [(b"x-amzn-requestid", request_id.encode())]
        if protocol is Protocol.JSON:
            kind = "Sender" if failure.sender else "Receiver"
            headers.append((b"x-amzn-query-error", f"{failure.code};{kind}".encode()))
            payload = dumps(
                {"__type": f"com.amazonaws.sqs#{failure.shape}", "message": failure.message}
            )
            return await respond(send, failure.status, payload, JSON_TYPE + headers)
        document = render.xml_error(failure, request_id)
        return await respond(send, failure.status, document, XML_TYPE + headers)
