"""MD5OfMessageBody and MD5OfMessageAttributes, exactly as SQS computes them.

The attribute digest covers each attribute in name order: name, data type, a transport byte
(1: string or number, 2: binary) and the value, every field but the transport byte preceded by
its length as a 4-byte big-endian integer.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttributeValue:
    data_type: str
    string: str | None = None
    binary: bytes | None = None


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, AttributeValue]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        for field in (name.encode(), value.data_type.encode()):
            digest.update(struct.pack(">I", len(field)) + field)
        if value.binary is not None:
            data, transport = value.binary, 2
        else:
            data, transport = (value.string or "").encode(), 1
        digest.update(bytes([transport]) + struct.pack(">I", len(data)) + data)
    return digest.hexdigest()
