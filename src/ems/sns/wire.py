"""SNS's wire: AWS Query requests in, XML documents out, SNS's errors.

A request is the form SQS's Query protocol also uses (:func:`ems.sqs.wire.parse` reads it), with
SNS's collections: lists as ``Name.member.N`` and maps as ``Name.entry.N.key|value`` (message
attributes: ``.entry.N.Name|Value``), unflattened here into lists and dicts. Answers are
``<ActionResponse xmlns=...><ActionResult>...`` with lists of ``<member>`` and maps of
``<entry><key/><value/></entry>``; errors an ``ErrorResponse`` with SNS's code and status.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ems.sqs.errors import SqsError
from ems.sqs.render import xml_text

NAMESPACE: Final = "http://sns.amazonaws.com/doc/2010-03-31/"
VERSION: Final = "2010-03-31"
_INDEX: Final = re.compile(r"[1-9][0-9]{0,3}")
# maps whose values are written as <entry><key/><value/>
_MAPS: Final = frozenset({"Attributes"})
_STATUS: Final = {
    "NotFound": 404,
    "ResourceNotFound": 404,
    "AuthorizationError": 403,
    "InvalidSecurity": 403,
    "TopicLimitExceeded": 403,
    "SubscriptionLimitExceeded": 403,
    "FilterPolicyLimitExceeded": 403,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "MissingAuthenticationToken": 403,
    "AccessDenied": 403,
    "Throttled": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}


def error(code: str, message: str) -> SqsError:
    """An SNS error by its code, with the status SNS gives it."""
    status = _STATUS.get(code, 400)
    return SqsError(code, message, status=status, sender=status < 500)


def invalid(parameter: str, reason: str | None = None) -> SqsError:
    """``InvalidParameter``, worded as SNS words it."""
    text = f"Invalid parameter: {parameter}" + (f" Reason: {reason}" if reason else "")
    return error("InvalidParameter", text)


def not_found(what: str = "Topic") -> SqsError:
    return error("NotFound", f"{what} does not exist")


def collections(node: Any) -> Any:
    """``{"member": {"1": a, "2": b}}`` -> ``[a, b]``; ``{"entry": {"1": {"key": k,
    "value": v}}}`` -> ``{k: v}``; recursively."""
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        return [collections(v) for v in _numbered(node["member"], "member")]
    if set(node) == {"entry"} and isinstance(node["entry"], dict):
        out: dict[str, Any] = {}
        for item in _numbered(node["entry"], "entry"):
            if not isinstance(item, dict):
                raise invalid("entry", "each map entry needs a key and a value")
            key = item.get("key", item.get("Name"))
            if not isinstance(key, str):
                raise invalid("entry", "each map entry needs a key and a value")
            out[key] = collections(item.get("value", item.get("Value", "")))
        return out
    return {k: collections(v) for k, v in node.items()}


def _numbered(indexed: dict[str, Any], name: str) -> list[Any]:
    if not all(_INDEX.fullmatch(i) for i in indexed):
        raise invalid(name, f"{name}.N must be numbered from 1")
    return [v for _, v in sorted(indexed.items(), key=lambda kv: int(kv[0]))]


def xml_document(action: str, result: dict[str, Any] | None, request_id: str) -> bytes:
    inner = "".join(_element(k, v) for k, v in (result or {}).items())
    body = f"<{action}Result>{inner}</{action}Result>" if result is not None else ""
    return (
        f'<?xml version="1.0"?><{action}Response xmlns="{NAMESPACE}">{body}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def xml_error(failure: SqsError, request_id: str) -> bytes:
    kind = "Sender" if failure.sender else "Receiver"
    return (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{xml_text(failure.code)}</Code><Message>{xml_text(failure.message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def _element(name: str, value: Any) -> str:
    if isinstance(value, list):
        members = "".join(_element("member", item) for item in value)
        return f"<{name}>{members}</{name}>"
    if isinstance(value, dict):
        if name in _MAPS:
            entries = "".join(
                f"<entry><key>{xml_text(k)}</key><value>{xml_text(str(v))}</value></entry>"
                for k, v in value.items()
            )
            return f"<{name}>{entries}</{name}>"
        return f"<{name}>{''.join(_element(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    return f"<{name}>{xml_text(str(value))}</{name}>"
