"""SNS delivery policies and redrive policies, onto EMS's webhook delivery policy.

An HTTP(S) subscription's ``DeliveryPolicy`` (or its topic's ``http.defaultHealthyRetryPolicy``)
says how often and how far apart failed deliveries are retried: ``numRetries`` (0-100),
``minDelayTarget`` and ``maxDelayTarget`` (1-3600 s). EMS retries between those delays with its
own exponential backoff (``backoffFunction`` and the no-delay/min-delay/max-delay phase counts are
accepted and shown back, not followed exactly). SNS's default: 3 retries, 20 s apart. An
endpoint has 15 s to answer.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ems.core.topic_models import DeliveryPolicy
from ems.sns.wire import invalid
from ems.sqs.errors import SqsError

TIMEOUT_SECONDS: Final = 15
MAX_RETRIES: Final = 100
MAX_DELAY: Final = 3600
DEFAULT_RETRY: Final = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
DEFAULT_TOPIC_POLICY: Final = {
    "http": {
        "defaultHealthyRetryPolicy": DEFAULT_RETRY,
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}
_BACKOFF: Final = frozenset({"linear", "arithmetic", "geometric", "exponential"})


def _bad(reason: str) -> SqsError:
    return invalid("DeliveryPolicy", reason)


def _document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad("The delivery policy is not valid JSON") from None
    if not isinstance(document, dict):
        raise _bad("The delivery policy must be a JSON object")
    return document


def check_subscription_policy(text: str) -> dict[str, Any]:
    """A subscription's DeliveryPolicy: its healthyRetryPolicy, checked (or {})."""
    document = _document(text)
    retry = document.get("healthyRetryPolicy")
    if retry is None:
        return {}
    return check_retry(retry)


def check_topic_policy(text: str) -> dict[str, Any]:
    """A topic's DeliveryPolicy: its http.defaultHealthyRetryPolicy, checked (or {})."""
    document = _document(text)
    http = document.get("http", {})
    if not isinstance(http, dict):
        raise _bad("http must be an object")
    retry = http.get("defaultHealthyRetryPolicy")
    return {} if retry is None else check_retry(retry)


def check_retry(retry: object) -> dict[str, Any]:
    if not isinstance(retry, dict):
        raise _bad("healthyRetryPolicy must be an object")
    merged = {**DEFAULT_RETRY, **retry}
    numbers = {}
    for name, low, high in (
        ("numRetries", 0, MAX_RETRIES),
        ("minDelayTarget", 1, MAX_DELAY),
        ("maxDelayTarget", 1, MAX_DELAY),
        ("numNoDelayRetries", 0, MAX_RETRIES),
        ("numMinDelayRetries", 0, MAX_RETRIES),
        ("numMaxDelayRetries", 0, MAX_RETRIES),
    ):
        value = merged[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _bad(f"{name} must be an integer from {low} to {high}")
        numbers[name] = value
    if numbers["minDelayTarget"] > numbers["maxDelayTarget"]:
        raise _bad("minDelayTarget must be less than or equal to maxDelayTarget")
    if numbers["numRetries"] * numbers["minDelayTarget"] > MAX_DELAY:
        raise _bad("The total retry time must not exceed 3600 seconds")
    if merged["backoffFunction"] not in _BACKOFF:
        raise _bad("backoffFunction must be linear, arithmetic, geometric or exponential")
    return merged


def effective(retry: dict[str, Any]) -> DeliveryPolicy:
    """EMS's delivery policy for an SNS retry policy (checked)."""
    merged = {**DEFAULT_RETRY, **retry}
    return DeliveryPolicy(
        envelope=False,
        max_attempts=merged["numRetries"] + 1,
        min_retry_seconds=merged["minDelayTarget"],
        max_retry_seconds=merged["maxDelayTarget"],
        timeout_seconds=TIMEOUT_SECONDS,
    )


def dead_letter_arn(text: str) -> str | None:
    """The ``deadLetterTargetArn`` of a RedrivePolicy; None for an empty policy."""
    if text.strip() in ("", "{}"):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise invalid("RedrivePolicy", "RedrivePolicy must be valid JSON") from None
    arn = document.get("deadLetterTargetArn") if isinstance(document, dict) else None
    if not isinstance(arn, str):
        raise invalid("RedrivePolicy", "deadLetterTargetArn is missing")
    return arn
