"""Rules for what a subscription may say: filter policies, webhook URLs, delivery policies.

Checked when a subscription is made, so that everything stored can be delivered as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ems.core import limits
from ems.core.errors import InvalidRequest
from ems.core.subscription_filters import (
    MAX_FILTER_KEYS,
    MAX_FILTER_VALUES,
    matches,
    parse_filter_policy,
)
from ems.core.topic_models import DeliveryPolicy
from ems.core.webhook_urls import _UNSAFE_IN_URL, MAX_URL_CHARS, check_webhook_url

__all__ = [
    "MAX_FILTER_KEYS",
    "MAX_FILTER_VALUES",
    "MAX_URL_CHARS",
    "check_webhook_url",
    "delivery_policy",
    "display_name",
    "matches",
    "parse_filter_policy",
]

MAX_DISPLAY_NAME_CHARS: Final = 100
POLICY_BOUNDS: Final = {
    "max_attempts": limits.Bound("max_attempts", 1, 50, "attempts"),
    "min_retry_seconds": limits.Bound("min_retry_seconds", 1, 3600),
    "max_retry_seconds": limits.Bound("max_retry_seconds", 1, 86_400),
    "timeout_seconds": limits.Bound("timeout_seconds", 1, 30),
    "max_concurrency": limits.Bound("max_concurrency", 1, 100, "requests"),
}


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
