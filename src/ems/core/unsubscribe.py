"""Unsubscribe links of email subscriptions: a token that removes exactly one subscription.

Every notification mail carries a link that unsubscribes its reader without any id (RFC 8058
one-click, and SNS's unsubscribe link): the reader holds no topic id and must not get one. The
token is the subscription's id (which names it but grants nothing) followed by an HMAC of that
id under the subscription's own secret, which never leaves the server for email subscriptions.
So the link is checked without a table of tokens (no schema of its own), cannot be forged for
another subscription, and dies with its subscription.

Like every id, it starts with the installation's prefix, so that a proxy routing by prefix
sends ``/ems/topic/unsubscribe/s2_...`` to the shard that holds the subscription.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

_CONTEXT: Final = b"ems/unsubscribe/v1:"
SUBSCRIPTION_PREFIX: Final = "sub-"
_ID_CHARS: Final = 16  # what follows "sub-" in a subscription id (token_urlsafe(12))
_MAC_CHARS: Final = 27  # 160 bits of HMAC-SHA256, base64url
_TOKEN: Final = re.compile(
    rf"(?:[A-Za-z0-9]{{1,16}}_)?(?P<id>[A-Za-z0-9_-]{{{_ID_CHARS}}})(?P<mac>[A-Za-z0-9_-]{{{_MAC_CHARS}}})"
)


def _mac(secret: str, subscription_id: str) -> str:
    digest = hmac.new(secret.encode(), _CONTEXT + subscription_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:_MAC_CHARS]


def token(subscription_id: str, secret: str, id_prefix: str = "") -> str:
    """The unsubscribe token of a subscription."""
    if not subscription_id.startswith(SUBSCRIPTION_PREFIX):
        raise ValueError("not a subscription id")
    suffix = subscription_id[len(SUBSCRIPTION_PREFIX) :]
    prefix = f"{id_prefix}_" if id_prefix else ""
    return prefix + suffix + _mac(secret, subscription_id)


def subscription_of(value: str) -> str | None:
    """The subscription id a token names (not yet checked), or None if it is no token."""
    match = _TOKEN.fullmatch(value)
    return SUBSCRIPTION_PREFIX + match.group("id") if match else None


def verify(value: str, subscription_id: str, secret: str) -> bool:
    match = _TOKEN.fullmatch(value)
    return match is not None and hmac.compare_digest(
        match.group("mac"), _mac(secret, subscription_id)
    )
