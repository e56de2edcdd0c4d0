"""SQS messages on EMS messages: bodies, typed message attributes, system attributes.

EMS attributes are strings, so SQS attributes are stored by name with their string value (binary
values in base64), and the data types other than ``String`` in one extra attribute,
``sqs:types`` (a JSON object; ':' cannot appear in an SQS or native attribute name). A message
sent natively reads in SQS as having ``String`` attributes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from ems.core.models import StoredMessage
from ems.sqs import fifo_messages
from ems.sqs.checksums import AttributeValue, md5_of_attributes, md5_of_body
from ems.sqs.errors import error, invalid
from ems.sqs.names import shown

TYPES_ATTRIBUTE: Final = "sqs:types"
# the system attributes SenderId and AWSTraceHeader, recorded at sending
SENDER_ATTRIBUTE: Final = "sqs:sender_id"
TRACE_ATTRIBUTE: Final = "sqs:trace_header"
# an X-Ray trace header is about 100 characters; this leaves room and bounds what is stored
MAX_TRACE_HEADER: Final = 1024
MAX_ATTRIBUTES: Final = 10
_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,256}")
# the characters SQS (and XML 1.0) allow; lone surrogates are not among them
_PRINTABLE: Final = "\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"
NOT_XML: Final = re.compile(f"[^\x09\x0a\x0d{_PRINTABLE}]")
# a custom type label: printable XML characters
_TYPE: Final = re.compile(f"(String|Number|Binary)(\\.[{_PRINTABLE}]{{1,249}})?")
_NUMBER: Final = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def check_body(body: object) -> str:
    if body is None or body == "":
        raise error("MissingParameter", "The request must contain the parameter MessageBody.")
    if not isinstance(body, str):
        raise invalid("MessageBody must be a string.")
    # printable ASCII (the usual body) is allowed throughout: skip the per-character search
    if not (body.isascii() and body.isprintable()) and NOT_XML.search(body):
        raise error(
            "InvalidMessageContents",
            "Invalid characters found. Valid values: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 "
            "to #xFFFD | #x10000 to #x10FFFF",
        )
    return body


def check_attributes(document: object) -> dict[str, AttributeValue]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise invalid("MessageAttributes must be a map.")
    if len(document) > MAX_ATTRIBUTES:
        raise invalid(
            f"Number of message attributes [{len(document)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    checked: dict[str, AttributeValue] = {}
    for name, value in document.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise invalid(f"Message attribute name {shown(name)} is invalid.")
        lowered = name.lower()
        if lowered.startswith(("aws.", "amazon.", ".")) or lowered.endswith(".") or ".." in lowered:
            raise invalid(f"Message attribute name '{name}' is invalid.")
        checked[name] = _check_value(name, value)
    return checked


def _check_value(name: str, value: object) -> AttributeValue:
    if not isinstance(value, dict):
        raise invalid(f"The message attribute '{name}' must have a DataType and a value.")
    data_type = value.get("DataType")
    if not isinstance(data_type, str) or not _TYPE.fullmatch(data_type):
        raise invalid(f"The message attribute '{name}' has an invalid message attribute type.")
    if data_type.startswith("Binary"):
        raw = value.get("BinaryValue")
        try:
            binary = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
        except (binascii.Error, ValueError):
            binary = b""
        if not binary:
            raise invalid(
                f"The message attribute '{name}' with type 'Binary' must use field 'Binary'."
            )
        return AttributeValue(data_type, binary=binary)
    string = value.get("StringValue")
    if not isinstance(string, str) or not string:
        raise invalid(
            f"The message attribute '{name}' with type '{data_type.split('.')[0]}' must use "
            "field 'String'."
        )
    if NOT_XML.search(string):
        raise invalid(f"The message attribute '{name}' contains invalid characters.")
    if data_type.startswith("Number") and not _NUMBER.fullmatch(string):
        raise invalid(f"Can't cast the value of message attribute '{name}' to a number.")
    return AttributeValue(data_type, string=string)


def size_of(body: str, attributes: Mapping[str, AttributeValue]) -> int:
    """The size SQS counts against the maximum message size."""
    size = len(body.encode())
    for name, value in attributes.items():
        data = value.binary if value.binary is not None else (value.string or "").encode()
        size += len(name.encode()) + len(value.data_type.encode()) + len(data)
    return size


def declared_size(entry: dict[str, Any]) -> int:
    """A batch entry's size as SQS counts it towards the batch's total (body, and attribute
    names, types and values), for whatever of it is well-formed enough to count."""
    size = _length(entry.get("MessageBody"))
    document = entry.get("MessageAttributes")
    if isinstance(document, dict):
        for name, value in document.items():
            size += _length(name)
            if isinstance(value, dict):
                size += _length(value.get("DataType")) + _length(value.get("StringValue"))
                binary = value.get("BinaryValue")
                size += len(binary) * 3 // 4 if isinstance(binary, str) else 0
    return size


def _length(text: object) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 0


def to_ems(attributes: Mapping[str, AttributeValue]) -> dict[str, str] | None:
    if not attributes:
        return None
    stored: dict[str, str] = {}
    types: dict[str, str] = {}
    for name, value in attributes.items():
        if value.binary is not None:
            stored[name] = base64.b64encode(value.binary).decode()
        else:
            stored[name] = value.string or ""
        if value.data_type != "String":
            types[name] = value.data_type
    if types:
        stored[TYPES_ATTRIBUTE] = json.dumps(types, separators=(",", ":"))
    return stored


def from_ems(stored: Mapping[str, str]) -> dict[str, AttributeValue]:
    types: dict[str, str] = {}
    if TYPES_ATTRIBUTE in stored:
        try:
            types = json.loads(stored[TYPES_ATTRIBUTE])
        except ValueError:
            types = {}
    attributes: dict[str, AttributeValue] = {}
    for name, text in stored.items():
        if name.startswith("sqs:"):
            # EMS's own records (types, sender, trace header): not message attributes
            continue
        data_type = types.get(name, "String")
        if data_type.startswith("Binary"):
            try:
                attributes[name] = AttributeValue(data_type, binary=base64.b64decode(text))
                continue
            except (binascii.Error, ValueError):
                data_type = "String"
        attributes[name] = AttributeValue(data_type, string=text)
    return attributes


def attribute_document(value: AttributeValue) -> dict[str, str]:
    if value.binary is not None:
        return {"DataType": value.data_type, "BinaryValue": base64.b64encode(value.binary).decode()}
    return {"DataType": value.data_type, "StringValue": value.string or ""}


def _selected(name: str, wanted: list[str]) -> bool:
    """Whether ``MessageAttributeNames`` asks for the attribute: ``All``, ``.*`` (and ``*``,
    which SQS also takes), the name itself, or ``prefix.*``: every name that starts with
    ``prefix``, as the ReceiveMessage reference reads ("attributes starting with a prefix,
    for example ``bar.*``"), so ``Custom.*`` selects ``Custom.a`` and ``CustomerId`` alike."""
    for pattern in wanted:
        if pattern in ("All", ".*", "*") or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-2]):
            return True
    return False


def check_trace_header(document: object) -> str | None:
    """``MessageSystemAttributes`` on send: only ``AWSTraceHeader``, a String."""
    if document is None or document == {}:
        return None
    if not isinstance(document, dict):
        raise invalid("MessageSystemAttributes must be a map.")
    for name in document:
        if name != "AWSTraceHeader":
            raise invalid(f"Message system attribute name {shown(name)} is invalid.")
    value = document["AWSTraceHeader"]
    text = value.get("StringValue") if isinstance(value, dict) else None
    if not isinstance(value, dict) or value.get("DataType") != "String" or not text:
        raise invalid("The message system attribute 'AWSTraceHeader' must be a String.")
    if not isinstance(text, str) or len(text) > MAX_TRACE_HEADER or NOT_XML.search(text):
        raise invalid(
            f"The message system attribute 'AWSTraceHeader' must be at most {MAX_TRACE_HEADER} "
            "valid characters."
        )
    return text


def message_document(
    message: StoredMessage, handle: str, attribute_names: list[str], system_names: set[str]
) -> dict[str, Any]:
    body = message.body.decode("utf-8", errors="replace")
    document: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": handle,
        "MD5OfBody": md5_of_body(body),
        "Body": body,
    }
    system = {
        "SentTimestamp": str(message.sent_at_ms),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.first_received_at_ms or message.sent_at_ms),
    }
    for name, stored in (("SenderId", SENDER_ATTRIBUTE), ("AWSTraceHeader", TRACE_ATTRIBUTE)):
        if stored in message.attributes:
            system[name] = message.attributes[stored]
    system.update(fifo_messages.system_attributes(message))
    chosen = {k: v for k, v in system.items() if "All" in system_names or k in system_names}
    if chosen:
        document["Attributes"] = chosen
    attributes = {
        name: value
        for name, value in from_ems(message.attributes).items()
        if _selected(name, attribute_names)
    }
    if attributes:
        document["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        document["MessageAttributes"] = {
            name: attribute_document(value) for name, value in attributes.items()
        }
    return document
