"""When to try a failed push again: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import email.utils
import random
import time

from ems.core.topic_models import DeliveryPolicy

FACTOR = 3
JITTER = 0.2


def retry_delay(
    attempt: int,
    policy: DeliveryPolicy,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    min_retry × 3^(attempt-1), capped at max_retry, ±20 % jitter so that a recovering endpoint
    is not hit by every retry at once. With the defaults (10 s to 12 h) ten attempts span about
    21 hours. A server's Retry-After is honoured when it asks for longer, up to max_retry.
    """
    base = min(policy.max_retry_seconds, policy.min_retry_seconds * FACTOR ** (attempt - 1))
    jittered: float = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        jittered = max(jittered, retry_after)
    return max(policy.min_retry_seconds * (1 - JITTER), min(jittered, policy.max_retry_seconds))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
