"""Responses in either protocol: JSON as is, or the Query protocol's XML documents.

Actions return the JSON protocol's output; :func:`xml_document` writes the same data in the
Query shapes (``<CreateQueueResponse><CreateQueueResult>...``), flattening lists and maps.
"""

from __future__ import annotations

from typing import Any, Final
from xml.sax.saxutils import escape

from ems.sqs.errors import SqsError

NAMESPACE: Final = "http://queue.amazonaws.com/doc/2012-11-05/"
# JSON list -> the element each member becomes; for batch results it depends on the action
_LIST_MEMBERS: Final = {"QueueUrls": "QueueUrl", "queueUrls": "QueueUrl", "Messages": "Message",
                        "Failed": "BatchResultErrorEntry"}  # fmt: skip
# JSON map -> (element, key element, value element)
_MAP_MEMBERS: Final = {
    "Attributes": ("Attribute", "Name", "Value"),
    "Tags": ("Tag", "Key", "Value"),
    "MessageAttributes": ("MessageAttribute", "Name", "Value"),
}


def xml_document(action: str, result: dict[str, Any], request_id: str) -> bytes:
    members = dict(_LIST_MEMBERS, Successful=f"{action}ResultEntry")
    inner = "".join(_element(k, v, members) for k, v in result.items())
    body = f"<{action}Result>{inner}</{action}Result>" if result else f"<{action}Result/>"
    return (
        f'<?xml version="1.0"?><{action}Response xmlns="{NAMESPACE}">{body}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def xml_error(failure: SqsError, request_id: str) -> bytes:
    kind = "Sender" if failure.sender else "Receiver"
    return (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(failure.code)}</Code><Message>{escape(failure.message)}</Message>"
        f"<Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def _element(name: str, value: Any, members: dict[str, str]) -> str:
    if isinstance(value, list):
        member = members.get(name, name)
        return "".join(_element(member, item, members) for item in value)
    if isinstance(value, dict):
        if name in _MAP_MEMBERS:
            element, key_name, value_name = _MAP_MEMBERS[name]
            return "".join(
                f"<{element}><{key_name}>{escape(k)}</{key_name}>"
                f"{_element(value_name, v, members)}</{element}>"
                for k, v in value.items()
            )
        inner = "".join(_element(k, v, members) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = escape(str(value), {"\r": "&#xD;"})
    return f"<{name}>{text}</{name}>"
