"""The queue actions: create, find, list, delete, purge, attributes, tags, dead-letter sources."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from ems.core import limits
from ems.core.errors import EmsError
from ems.core.ids import queue_hash
from ems.core.queue_access import Use
from ems.core.queues import QueueService
from ems.sqs import attributes, fifo_queues, messages
from ems.sqs.errors import SqsError, error, invalid
from ems.sqs.names import (
    Caller,
    check_name,
    integer,
    name_from_arn,
    name_from_url,
    shown,
    text,
)
from ems.sqs.registry import Registry

MAX_TAGS: Final = 50
# SQS's default (and greatest) MaximumMessageSize since 2025: a queue made through the SQS API
# without one takes 1 MiB messages, as on AWS (the native API's default stays 256 KiB)
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576
# SQS allows one PurgeQueue per queue every 60 seconds
PURGE_INTERVAL_MS: Final = 60_000
LIST_RESULTS: Final = limits.Bound("MaxResults", 1, 1000, "results")
_TAG_KEY: Final = re.compile(r"[\w.:/=+\-@ ]{1,128}")
# a name's beginning: FIFO queues' names have a dot in them
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.-]{0,80}")


class QueueActions:
    def __init__(self, service: QueueService, registry: Registry) -> None:
        self.service = service
        self.registry = registry
        # queue id hash -> when it was last purged (ms), on this node: an entry older than the
        # interval is dropped at the next purge, so this holds at most a minute of purges
        self._purged: dict[bytes, int] = {}

    async def _resolve_arn(self, caller: Caller, arn: str) -> str:
        _, queue_id = await self.registry.find(caller.namespace, name_from_arn(caller, arn))
        return queue_id

    async def _settings(
        self, caller: Caller, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, object]]:
        """The EMS settings the request's attributes give, and its FIFO attributes as given."""
        rest, fifo_given = fifo_queues.split(params.get("Attributes"))
        settings = await attributes.to_settings(rest, lambda arn: self._resolve_arn(caller, arn))
        return settings, fifo_given

    async def _check_dead_letter_type(
        self, params: dict[str, Any], settings: dict[str, Any], fifo: bool
    ) -> None:
        """A FIFO queue's dead-letter queue is FIFO, a standard queue's standard (SQS's rule,
        answered in its words before the queue service would refuse it in its own)."""
        dead_letter = settings.get("dead_letter")
        if dead_letter is None:
            return
        target, _ = await self.service.describe_queue(dead_letter["queue_id"])
        if (target.config.fifo is not None) != fifo:
            policy = params["Attributes"]["RedrivePolicy"]
            raise invalid(
                f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                "target must be same type of queue as source."
            )

    async def create_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = check_name(params.get("QueueName"))
        settings, fifo_given = await self._settings(caller, params)
        fifo = fifo_queues.for_create(name, fifo_given)
        await self._check_dead_letter_type(params, settings, fifo is not None)
        settings.update(fifo_queues.native(fifo))
        tags = _check_tags(params.get("tags", params.get("Tags")))
        policy = attributes.policy_of(params.get("Attributes"))
        try:
            _, queue_id = await self.registry.find(caller.namespace, name)
        except SqsError as failure:
            if failure.shape != "QueueDoesNotExist":
                raise
        else:
            await self._check_same(queue_id, settings)
            return {"QueueUrl": caller.url(name)}
        created = await self.service.create_queue(
            {"max_message_bytes": SQS_MAX_MESSAGE_BYTES, **settings},
            owner=f"sqs:{caller.access_key}",
        )
        queue_id = created.view.queue_id
        _, added = await self.registry.add(caller, name, queue_id, tags, policy or "")
        if not added:
            # another request created the name meanwhile: keep its queue, drop ours
            await self.service.delete_queue(queue_id)
            _, existing = await self.registry.find(caller.namespace, name)
            await self._check_same(existing, settings)
        return {"QueueUrl": caller.url(name)}

    async def _check_same(self, queue_id: str, settings: dict[str, Any]) -> None:
        view, _ = await self.service.describe_queue(queue_id)
        current: dict[str, Any] = {
            "visibility_timeout": view.config.visibility_timeout,
            "retention_seconds": view.config.retention_seconds,
            "delay_seconds": view.config.delay_seconds,
            "receive_wait_seconds": view.config.receive_wait_seconds,
            "max_message_bytes": view.config.max_message_bytes,
            "dead_letter": (
                {"queue_id": view.dead_letter_queue_id,
                 "max_receives": view.config.dead_letter.max_receives}
                if view.config.dead_letter is not None else None
            ),
        }  # fmt: skip
        # a name's FIFO-ness is in the name itself: only the FIFO settings can differ
        current.update(fifo_queues.native(view.config.fifo))
        if any(current.get(k) != v for k, v in settings.items()):
            raise error(
                "QueueNameExists",
                "A queue already exists with the same name and a different value for attribute(s).",
            )

    async def get_queue_url(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = check_name(params.get("QueueName"))
        owner = params.get("QueueOwnerAWSAccountId")
        if owner not in (None, caller.account):
            raise error("QueueDoesNotExist", "The specified queue does not exist.")
        await self.registry.find(caller.namespace, name)
        return {"QueueUrl": caller.url(name)}

    async def list_queues(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        prefix = text(params, "QueueNamePrefix", required=False) or ""
        if not _PREFIX.fullmatch(prefix):
            raise invalid(
                "QueueNamePrefix can only include alphanumeric characters, hyphens, periods, "
                "or underscores, up to 80."
            )
        limit = integer(params, "MaxResults", LIST_RESULTS)
        after = _token(params.get("NextToken"))
        page = await self.registry.store.list_sqs_queues(
            caller.namespace, prefix=prefix, after=after, limit=limit or 1000
        )
        result: dict[str, Any] = {"QueueUrls": [caller.url(e.name) for e in page]}
        if limit is not None and len(page) == limit:
            result["NextToken"] = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
        return result

    async def delete_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        _, queue_id = await self.registry.find(caller.namespace, name)
        await self.service.delete_queue(queue_id)
        await self.registry.remove(caller.namespace, name)
        return {}

    async def purge_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        entry, queue_id = await self.registry.find(caller.namespace, name)
        now = self.registry.store.clock.now_ms()
        last = self._purged.get(entry.queue_hash)
        if last is not None and now - last < PURGE_INTERVAL_MS:
            raise error(
                "PurgeQueueInProgress",
                f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.",
            )
        self._purged = {h: t for h, t in self._purged.items() if now - t < PURGE_INTERVAL_MS}
        self._purged[entry.queue_hash] = now
        await self.service.purge_queue(queue_id)
        return {}

    async def get_queue_attributes(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        names = attributes.check_names(params.get("AttributeNames"))
        entry, queue_id = await self.registry.find(caller.namespace, name)
        if not names:
            return {}
        view, stats = await self.service.describe_queue(queue_id)
        redrive = None
        dead_letter = view.config.dead_letter
        if dead_letter is not None and view.dead_letter_queue_id is not None:
            target = await self.registry.name_of(caller.namespace, view.dead_letter_queue_id)
            if target is not None:
                redrive = {
                    "deadLetterTargetArn": caller.arn(target),
                    "maxReceiveCount": dead_letter.max_receives,
                }
        values = attributes.describe(
            names, entry=entry, view=view, stats=stats, arn=caller.arn(name), redrive=redrive
        )
        return {"Attributes": values} if values else {}

    async def set_queue_attributes(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        entry, queue_id = await self.registry.find(caller.namespace, name)
        if params.get("Attributes") is None:
            raise error("MissingParameter", "The request must contain the parameter Attributes.")
        settings, fifo_given = await self._settings(caller, params)
        policy = attributes.policy_of(params.get("Attributes"))
        record = (await self.service.find_queue(queue_id, Use.OWN)).record
        fifo = fifo_queues.changed(record.config.fifo, fifo_given)
        await self._check_dead_letter_type(params, settings, record.config.fifo is not None)
        if settings:
            await self.service.update_queue(queue_id, settings)
        if fifo is not None:
            await self.service.store.set_fifo_settings(queue_hash(queue_id), fifo)
        await self.registry.touch(entry, policy=policy)
        return {}

    async def tag_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        new = _check_tags(params.get("Tags"))
        if not new:
            raise error("MissingParameter", "The request must contain the parameter Tags.")
        entry, _ = await self.registry.find(caller.namespace, name)
        tags = {**entry.tags, **new}
        if len(tags) > MAX_TAGS:
            raise invalid(f"A queue has at most {MAX_TAGS} tags.")
        await self.registry.touch(entry, tags)
        return {}

    async def untag_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        keys = params.get("TagKeys")
        if not keys or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise error("MissingParameter", "The request must contain the parameter TagKeys.")
        entry, _ = await self.registry.find(caller.namespace, name)
        await self.registry.touch(entry, {k: v for k, v in entry.tags.items() if k not in keys})
        return {}

    async def list_queue_tags(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        entry, _ = await self.registry.find(caller.namespace, name)
        return {"Tags": dict(entry.tags)} if entry.tags else {}

    async def list_dead_letter_source_queues(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        limit = integer(params, "MaxResults", LIST_RESULTS)
        after = _token(params.get("NextToken"))
        _, target = await self.registry.find(caller.namespace, name)
        sources: list[str] = []
        async for entry in self.registry.entries(caller.namespace, after=after):
            try:
                view, _ = await self.service.describe_queue(self.registry.queue_id(entry))
            except (EmsError, SqsError):
                continue
            if view.dead_letter_queue_id == target:
                sources.append(entry.name)
                if limit is not None and len(sources) == limit:
                    break
        result: dict[str, Any] = {"queueUrls": [caller.url(n) for n in sources]}
        if limit is not None and len(sources) == limit:
            result["NextToken"] = base64.urlsafe_b64encode(sources[-1].encode()).decode()
        return result


def _token(token: object) -> str:
    if token is None or token == "":
        return ""
    try:
        after = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, ValueError):
        raise invalid("Invalid NextToken.") from None
    # a queue name, as the tokens given out are
    if not _PREFIX.fullmatch(after):
        raise invalid("Invalid NextToken.")
    return after


def _check_tags(tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise invalid("Tags must be a map of keys to values.")
    if len(tags) > MAX_TAGS:
        raise invalid(f"A queue has at most {MAX_TAGS} tags.")
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY.fullmatch(key) or key.startswith("aws:"):
            raise invalid(
                f"Tag key {shown(key)} is invalid: 1 to 128 letters, digits, spaces or "
                "_ . : / = + - @, not starting with aws:."
            )
        if not isinstance(value, str) or len(value) > 256 or messages.NOT_XML.search(value):
            raise invalid(
                f"The value of tag {key!r} must be a string of at most 256 valid characters."
            )
    return dict(tags)
