"""Queue names, queue URLs and ARNs, and the account a request acts in."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from ems.core.limits import Bound
from ems.sqs.errors import invalid, missing, no_queue

# a standard queue's name, or a FIFO queue's: up to 75 characters and ".fifo" (80 in all)
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo")
FIFO_SUFFIX: Final = ".fifo"
_ACCOUNT: Final = re.compile(r"[0-9]{12}")
_ARN: Final = re.compile(r"arn:aws:sqs:([^:]*):([0-9]{12}):([A-Za-z0-9_.-]{1,80})")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, and where the answer's URLs point."""

    account: str
    access_key: str
    region: str
    base_url: str

    @property
    def namespace(self) -> str:
        """Where the caller's queue names live: SQS queues are per account and per region (the
        region of the request's SigV4 scope), so ``orders`` in us-west-2 is another queue than
        ``orders`` in us-east-1."""
        return f"{self.account}/{self.region}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{self.account}/{name}"

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"


def is_queue_path(parts: list[str]) -> bool:
    """``/{12-digit account}/{name}``: a queue URL the Query protocol may post to."""
    return len(parts) == 2 and _ACCOUNT.fullmatch(parts[0]) is not None


def check_name(name: object) -> str:
    if name is None or name == "":
        raise missing("QueueName")
    if not isinstance(name, str):
        raise invalid("QueueName must be a string.")
    if not _NAME.fullmatch(name):
        raise invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
            "length (QueueName)."
        )
    return name


def name_from_url(caller: Caller, url: object, path: list[str]) -> str:
    """The queue a request names: ``QueueUrl``, or the queue URL it was posted to."""
    if url is None or url == "":
        if is_queue_path(path):
            return _own(caller, path[0], path[1])
        raise missing("QueueUrl")
    if not isinstance(url, str):
        raise invalid("QueueUrl must be a string.")
    if _NAME.fullmatch(url):
        # SQS takes a bare queue name where a queue URL goes
        return url
    parts = _queue_url_parts(url)
    if parts is None:
        # what SQS answers for a URL it cannot read: no such queue
        raise no_queue()
    return _own(caller, *parts)


@functools.lru_cache(maxsize=4096)
def _queue_url_parts(url: str) -> tuple[str, str] | None:
    """(account, name) of a queue URL, None if it is not one. Memoized: a client names the
    same few queue URLs on every call, and splitting a URL costs more than the rest of
    finding its queue."""
    parts = urlsplit(url).path.strip("/").split("/")
    return (parts[0], parts[1]) if is_queue_path(parts) else None


def name_from_arn(caller: Caller, arn: object, parameter: str = "deadLetterTargetArn") -> str:
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise invalid(f"Value {shown(arn)} for {parameter} is not an SQS queue ARN.")
    if match.group(1) != caller.region:
        # queues live in one region: another region's queue is not this caller's to see
        raise no_queue()
    return _own(caller, match.group(2), match.group(3))


def _own(caller: Caller, account: str, name: str) -> str:
    if account != caller.account:
        # other accounts' queues are not visible: the same answer as a missing queue
        raise no_queue()
    if not _NAME.fullmatch(name):
        raise no_queue()
    return name


def text(params: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string.")
    return value


def integer(params: dict[str, Any], name: str, bound: Bound) -> int | None:
    """The integer parameter ``name``, if given, within ``bound`` (EMS's bounds where the SQS
    parameter is an EMS setting)."""
    value = params.get(name)
    if value is None:
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (bound.low <= value <= bound.high)
    ):
        raise invalid(
            f"Value {shown(value)} for parameter {name} is invalid. Reason: must be an integer "
            f"from {bound.low} to {bound.high}."
        )
    return value


def shown(value: object, limit: int = 100) -> str:
    """A client's value in a message: its repr (non-printable characters escaped), cut short."""
    text = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
