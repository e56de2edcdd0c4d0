"""What the SNS API (:mod:`ems.sns`) adds to EMS's topics, as plain data kept beside them.

An SNS subscription is an EMS subscription (queue or webhook) with an :class:`SnsSubscription`:
its ARN, whether it delivers raw messages or SNS's JSON envelope, and, for HTTP(S), the signed
``SubscriptionConfirmation``. An SNS publish is an EMS publish with an :class:`SnsMessage`: the
topic ARN, subject, per-protocol messages and their signatures, made once when published (a
signature covers no subscription-specific field, so every subscriber and every retry sends the
same bytes). Both are stored as JSON in the ``sns`` column of their rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SnsSubscription:
    subscription_arn: str
    topic_arn: str
    protocol: str  # sqs, http or https
    owner: str
    endpoint: str
    raw: bool = False
    filter_policy_scope: str = "MessageAttributes"
    unsubscribe_url: str = ""
    # http(s): the SubscriptionConfirmation's fields, signed when subscribed
    confirmation: Mapping[str, str] | None = None
    # as the subscriber gave them (JSON text), shown back by GetSubscriptionAttributes
    delivery_policy: str | None = None
    redrive_policy: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SnsSubscription | None:
        return None if text is None else cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class SnsVariant:
    """One ``Message`` text (``MessageStructure=json`` gives one per protocol) and its
    signature."""

    message: str
    signature: str


@dataclass(frozen=True, slots=True)
class SnsMessage:
    topic_arn: str
    timestamp: str  # ISO 8601 with milliseconds, as signed
    signature_version: str
    signing_cert_url: str
    subject: str | None
    # "default", and with MessageStructure=json "sqs", "http", "https" when given
    variants: Mapping[str, SnsVariant]
    # the envelope's MessageAttributes: {"name": {"Type": ..., "Value": ...}}
    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # published to a FIFO topic: its SequenceNumber (the envelope then carries it, and no
    # signature, as SNS FIFO notifications)
    sequence_number: str | None = None

    def variant(self, protocol: str) -> SnsVariant:
        return self.variants.get(protocol) or self.variants["default"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SnsMessage | None:
        if text is None:
            return None
        document: dict[str, Any] = json.loads(text)
        document["variants"] = {k: SnsVariant(**v) for k, v in document["variants"].items()}
        return cls(**document)


@dataclass(frozen=True, slots=True)
class SnsTopic:
    """An account's name for an EMS topic; the topic id is kept sealed (:mod:`ems.sns.topics`)."""

    account: str
    name: str
    topic_hash: bytes
    sealed_topic_id: bytes
    attributes: Mapping[str, str]
    tags: Mapping[str, str]
    created_at_ms: int
