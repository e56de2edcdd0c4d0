"""Requests in either SQS protocol, parsed into the JSON protocol's shape.

AWS JSON 1.0: ``X-Amz-Target: AmazonSQS.<Action>`` and a JSON object. Query: a form with
``Action=...`` whose lists and maps are flattened (``Attribute.1.Name``, ``Attribute.1.Value``);
:func:`query_params` unflattens them into the JSON names, so each action reads one shape.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from ems.core.errors import InvalidRequest
from ems.core.json_input import parse_json
from ems.sqs.errors import error, invalid

JSON_TYPE: Final = b"application/x-amz-json-1.0"
TARGET_PREFIX: Final = "AmazonSQS."
_ACTION: Final = re.compile(r"[A-Za-z]{1,64}")
_INDEX: Final = re.compile(r"[1-9][0-9]{0,3}")
# the deepest SQS request shape: Entries, an entry, its attributes, one, a list of values (JSON);
# SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringListValue.1 (Query)
MAX_JSON_DEPTH: Final = 10
MAX_KEY_SEGMENTS: Final = 8

# Query member names -> the JSON protocol's names; how each flattened collection reads
_LISTS: Final = {
    "AttributeName": "AttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "TagKey": "TagKeys",
    "SendMessageBatchRequestEntry": "Entries",
    "DeleteMessageBatchRequestEntry": "Entries",
    "ChangeMessageVisibilityBatchRequestEntry": "Entries",
}
# flattened maps: member name -> (JSON name, key field, value field)
_MAPS: Final = {
    "Attribute": ("Attributes", "Name", "Value"),
    "Tag": ("Tags", "Key", "Value"),
    "MessageAttribute": ("MessageAttributes", "Name", "Value"),
    "MessageSystemAttribute": ("MessageSystemAttributes", "Name", "Value"),
}
_INTEGERS: Final = frozenset(
    {
        "DelaySeconds",
        "MaxNumberOfMessages",
        "VisibilityTimeout",
        "WaitTimeSeconds",
        "MaxResults",
        "MaxNumberOfMessagesPerSecond",
    }
)


class Protocol(enum.Enum):
    JSON = "json"
    QUERY = "query"


@dataclass(frozen=True, slots=True)
class Call:
    protocol: Protocol
    action: str
    params: dict[str, Any]


def protocol_of(content_type: bytes | None, target: bytes | None) -> Protocol:
    """Which protocol to answer in (decided before anything else can fail)."""
    if target is not None or (content_type or b"").startswith(JSON_TYPE):
        return Protocol.JSON
    return Protocol.QUERY


def parse(protocol: Protocol, target: bytes | None, body: bytes, query: bytes) -> Call:
    if protocol is Protocol.JSON:
        return _parse_json(target, body)
    return _parse_query(body, query)


def _parse_json(target: bytes | None, body: bytes) -> Call:
    name = (target or b"").decode("latin-1")
    if not name.startswith(TARGET_PREFIX) or not _ACTION.fullmatch(name[len(TARGET_PREFIX) :]):
        raise error("UnknownOperationException", "X-Amz-Target must be AmazonSQS.<Action>.")
    try:
        # each action checks its strings and names the one at fault, per entry in batches
        params = parse_json(body, surrogates=True) if body.strip() else {}
    except InvalidRequest as failure:  # not UTF-8, not JSON, or nested too deep
        raise error("SerializationException", failure.detail) from None
    if not isinstance(params, dict):
        raise error("SerializationException", "The request body must be a JSON object.")
    if not _shallow(params, MAX_JSON_DEPTH):
        raise error(
            "SerializationException",
            f"The request body nests deeper than {MAX_JSON_DEPTH} levels.",
        )
    return Call(Protocol.JSON, name[len(TARGET_PREFIX) :], params)


def _parse_query(body: bytes, query: bytes) -> Call:
    try:
        pairs = parse_qsl(query.decode(), keep_blank_values=True, errors="strict")
        pairs += parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise error("MalformedQueryString", "The form is not valid URL-encoded UTF-8.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise error("MalformedQueryString", f"Parameter {key[:100]} is given twice.")
        form[key] = value
    action = form.pop("Action", "")
    if not action:
        raise error("MissingAction", "The request must contain the parameter Action.")
    if not _ACTION.fullmatch(action):
        raise error("InvalidAction", f"The action {action[:64]} is not valid for this endpoint.")
    for name in ("Version", "AWSAccessKeyId", "SignatureVersion", "SignatureMethod"):
        form.pop(name, None)
    return Call(Protocol.QUERY, action, query_params(form))


def query_params(form: dict[str, str]) -> dict[str, Any]:
    """Unflatten a Query form into the JSON protocol's parameters."""
    tree: dict[str, Any] = {}
    for key, value in form.items():
        node = tree
        parts = key.split(".", MAX_KEY_SEGMENTS)
        if len(parts) > MAX_KEY_SEGMENTS:
            raise invalid(f"Parameter {key[:100]} has more than {MAX_KEY_SEGMENTS} parts.")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid(f"Parameter {key[:100]} conflicts with another parameter.")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise invalid(f"Parameter {key[:100]} conflicts with another parameter.")
        node[parts[-1]] = value
    return _convert(tree)


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _MAPS and isinstance(value, dict):
            name, key_field, value_field = _MAPS[key]
            out[name] = {}
            for item in _members(key, value):
                if not isinstance(item, dict) or not isinstance(item.get(key_field), str):
                    raise invalid(f"Each {key}.N needs a {key_field}.")
                out[name][item[key_field]] = item.get(value_field, "")
        elif key in _LISTS and isinstance(value, dict):
            out[_LISTS[key]] = _members(key, value)
        elif key in _INTEGERS and isinstance(value, str):
            out[key] = int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else value
        elif isinstance(value, dict):
            out[key] = _convert(value)
        else:
            out[key] = value
    return out


def _members(name: str, indexed: dict[str, Any]) -> list[Any]:
    """The members of ``Name.1``, ``Name.2``, ... in index order."""
    if not all(_INDEX.fullmatch(i) for i in indexed):
        raise invalid(f"{name}.N must be numbered from 1.")
    return [
        _convert(v) if isinstance(v, dict) else v
        for _, v in sorted(indexed.items(), key=lambda kv: int(kv[0]))
    ]


def _shallow(document: object, limit: int) -> bool:
    """Whether no list or object in ``document`` is nested more than ``limit`` deep (iterative:
    a deep document must not exhaust the stack of whoever walks it next). Only lists and
    objects are visited: most requests are one object of strings and numbers."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = (
        [(document, 1)] if isinstance(document, dict | list) else []
    )
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return True
