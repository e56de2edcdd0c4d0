"""Rules for what a subscription may say: filter policies, webhook URLs, delivery policies.

Checked when a subscription is made, so that everything stored can be delivered as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from ems.core import limits
from ems.core.errors import InvalidRequest, InvalidWebhookUrl, quoted
from ems.core.topic_models import DeliveryPolicy, FilterPolicy

MAX_URL_CHARS: Final = 2048
MAX_FILTER_KEYS: Final = 10
MAX_FILTER_VALUES: Final = 100
MAX_DISPLAY_NAME_CHARS: Final = 100
POLICY_BOUNDS: Final = {
    "max_attempts": limits.Bound("max_attempts", 1, 50, "attempts"),
    "min_retry_seconds": limits.Bound("min_retry_seconds", 1, 3600),
    "max_retry_seconds": limits.Bound("max_retry_seconds", 1, 86_400),
    "timeout_seconds": limits.Bound("timeout_seconds", 1, 30),
    "max_concurrency": limits.Bound("max_concurrency", 1, 100, "requests"),
}


def parse_filter_policy(value: object) -> FilterPolicy | None:
    """``{"attribute": ["v1", "v2"], ...}``; names ignore case, as message attributes do."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value or len(value) > MAX_FILTER_KEYS:
        raise InvalidRequest(
            "filter_policy must be an object of 1 to 10 attributes, each with a list of allowed "
            'values: {"color": ["red", "blue"]}.',
            parameter="filter_policy",
        )
    names = limits.check_message_attributes(dict.fromkeys(value, ""))
    policy: dict[str, tuple[str, ...]] = {}
    total = 0
    for (name, allowed), key in zip(value.items(), names, strict=True):
        if (
            not isinstance(allowed, list)
            or not allowed
            or not all(isinstance(v, str) for v in allowed)
        ):
            raise InvalidRequest(
                f"filter_policy.{name} must be a non-empty list of strings.",
                parameter="filter_policy",
            )
        total += len(allowed)
        policy[key] = tuple(allowed)
    if total > MAX_FILTER_VALUES:
        raise InvalidRequest(
            f"filter_policy allows at most {MAX_FILTER_VALUES} values in all; got {total}.",
            parameter="filter_policy",
        )
    return policy


def matches(policy: FilterPolicy | None, attributes: Mapping[str, str] | None) -> bool:
    """Every attribute the policy names must be present with one of its allowed values."""
    if not policy:
        return True
    attributes = attributes or {}
    return all(attributes.get(name) in allowed for name, allowed in policy.items())


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host that DNS can name; the SSRF guard checks where it
    leads separately."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidWebhookUrl(f"The webhook URL is longer than {MAX_URL_CHARS} characters.")
    if _UNSAFE_IN_URL.search(url):
        # urlsplit would quietly drop tabs and newlines, and a NUL cannot be stored (PostgreSQL
        # text): a URL that is not what it looks like is refused, not repaired
        raise InvalidWebhookUrl(
            "The webhook URL must not contain spaces or control characters; percent-encode them."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookUrl(f"The webhook URL is not valid: {error}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl(
            "The webhook URL must be an absolute http:// or https:// URL with a host; got "
            f"{quoted(url, 80)}."
        )
    if parts.fragment:
        raise InvalidWebhookUrl("The webhook URL must not have a #fragment.")
    del port
    _check_host(parts.hostname)
    return url


# C0 and C1 controls, DEL, and every Unicode space (a lone surrogate cannot be stored either)
_UNSAFE_IN_URL: Final = re.compile(r"[\x00-\x20\x7f-\x9f\s\ud800-\udfff]")


def _check_host(host: str) -> None:
    """A host name DNS can carry (RFC 1035: labels of 1 to 63 octets, 253 in all, after IDNA),
    or an IP literal; anything else would fail later, deep inside the resolver."""
    if ":" in host:  # an IPv6 literal: urlsplit has already taken the brackets off
        return
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise InvalidWebhookUrl(
            "The webhook URL's host is not a valid host name: each dot-separated label must be "
            "1 to 63 characters (after IDNA encoding)."
        ) from None
    if len(encoded.rstrip(b".")) > 253:
        raise InvalidWebhookUrl("The webhook URL's host name is longer than 253 characters.")


def delivery_policy(options: Mapping[str, Any], **fixed: Any) -> DeliveryPolicy:
    """The delivery policy ``options`` ask for, on top of the ``fixed`` choices."""
    chosen: dict[str, Any] = dict(fixed)
    chosen.update(
        (name, bound.check(options[name])) for name, bound in POLICY_BOUNDS.items()
        if name in options
    )  # fmt: skip
    policy = DeliveryPolicy(**chosen)
    if policy.min_retry_seconds > policy.max_retry_seconds:
        raise InvalidRequest(
            "min_retry_seconds must not exceed max_retry_seconds.",
            parameter="min_retry_seconds",
        )
    return policy


def display_name(value: object) -> str:
    """The name mails come from: it goes into From and Subject headers, so one line of text."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_DISPLAY_NAME_CHARS
        or _UNSAFE_IN_URL.search(value.replace(" ", "x"))
    ):
        raise InvalidRequest(
            f"display_name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters of text on one line "
            "(no line breaks or control characters).",
            parameter="display_name",
        )
    return value.strip()
