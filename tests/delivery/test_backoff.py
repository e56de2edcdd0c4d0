from __future__ import annotations

import itertools
import random

from ems.core.topic_models import DeliveryPolicy
from ems.delivery.backoff import parse_retry_after, retry_delay


def test_defaults_spread_ten_attempts_over_about_a_day() -> None:
    policy = DeliveryPolicy()
    rng = random.Random(7)
    delays = [retry_delay(attempt, policy, rng=rng) for attempt in range(1, policy.max_attempts)]
    assert 8 <= delays[0] <= 12
    assert all(later >= earlier * 0.8 for earlier, later in itertools.pairwise(delays))
    assert max(delays) <= policy.max_retry_seconds
    assert 15 * 3600 <= sum(delays) <= 30 * 3600


def test_jitter_spreads_retries() -> None:
    policy = DeliveryPolicy()
    assert len({round(retry_delay(3, policy), 3) for _ in range(20)}) > 1


def test_retry_after_is_honoured_up_to_the_maximum() -> None:
    policy = DeliveryPolicy(min_retry_seconds=1, max_retry_seconds=600)
    assert retry_delay(1, policy, retry_after=120) >= 120
    assert retry_delay(1, policy, retry_after=10_000) == 600
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
