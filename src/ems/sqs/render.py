"""Responses in either protocol: JSON as is, or the Query protocol's XML documents.

Actions return the JSON protocol's output; :func:`xml_document` writes the same data in the
Query shapes (``<CreateQueueResponse><CreateQueueResult>...``), flattening lists and maps.

XML 1.0 cannot carry every character (NUL and most control characters, lone surrogates, U+FFFE):
SQS refuses them on input, but a message sent through EMS's native API may hold them. In XML they
are written as U+FFFD, and a message's MD5OfBody is then that of the body as written, so the
document stays well-formed and the client's digest check holds.
"""

from __future__ import annotations

from typing import Any, Final
from xml.sax.saxutils import escape

from ems.sqs.checksums import md5_of_body
from ems.sqs.errors import SqsError
from ems.sqs.messages import NOT_XML

NAMESPACE: Final = "http://queue.amazonaws.com/doc/2012-11-05/"
# JSON list -> the element each member becomes; for batch results it depends on the action
_LIST_MEMBERS: Final = {"QueueUrls": "QueueUrl", "queueUrls": "QueueUrl", "Messages": "Message",
                        "Failed": "BatchResultErrorEntry",
                        "Results": "ListMessageMoveTasksResultEntry"}  # fmt: skip
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
        f"<Code>{xml_text(failure.code)}</Code><Message>{xml_text(failure.message)}</Message>"
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
                f"<{element}><{key_name}>{xml_text(k)}</{key_name}>"
                f"{_element(value_name, v, members)}</{element}>"
                for k, v in value.items()
            )
        inner = "".join(_element(k, v, members) for k, v in _xml_safe(value).items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    return f"<{name}>{xml_text(str(value))}</{name}>"


def xml_text(value: str) -> str:
    """Character data for XML 1.0: escaped, and what XML cannot carry written as U+FFFD (SNS's
    documents use it too)."""
    return escape(NOT_XML.sub("\ufffd", value), {"\r": "&#xD;"})


def _xml_safe(document: dict[str, Any]) -> dict[str, Any]:
    """A message whose body XML cannot carry, as written, with the digest of what is written."""
    body = document.get("Body")
    if isinstance(body, str) and "MD5OfBody" in document and NOT_XML.search(body):
        written = NOT_XML.sub("\ufffd", body)
        return {**document, "Body": written, "MD5OfBody": md5_of_body(written)}
    return document
