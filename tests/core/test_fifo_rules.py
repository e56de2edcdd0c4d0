"""The FIFO rules of ems.core.fifo, on their own (the stores run them; see that module)."""

from __future__ import annotations

import pytest

from ems.core.errors import InvalidRequest
from ems.core.fifo import (
    DeduplicationScope,
    FifoSettings,
    Waiting,
    check_id,
    deduplication_key,
    plan_receive,
)

QUEUE_SCOPE = FifoSettings()
GROUP_SCOPE = FifoSettings(deduplication_scope=DeduplicationScope.GROUP)
CONTENT = FifoSettings(content_based_deduplication=True)


def test_a_group_whose_first_message_is_in_flight_yields_nothing() -> None:
    # LocalStack #6762/#12457: later messages of a group came while an earlier one was invisible
    waiting = [Waiting(1, "g", False), Waiting(2, "g", True), Waiting(3, "g", True)]
    assert plan_receive(waiting, 10) == []


def test_a_group_yields_its_leading_run_in_order() -> None:
    waiting = [Waiting(1, "g", True), Waiting(2, "g", True), Waiting(3, "g", False),
               Waiting(4, "g", True)]  # fmt: skip
    assert plan_receive(waiting, 10) == [1, 2]


def test_one_group_as_far_as_it_goes_then_the_next() -> None:
    waiting = [Waiting(1, "a", True), Waiting(2, "b", True), Waiting(3, "a", True),
               Waiting(4, "b", True), Waiting(5, "a", True)]  # fmt: skip
    assert plan_receive(waiting, 4) == [1, 3, 5, 2]
    assert plan_receive(waiting, 2) == [1, 3]


def test_a_blocked_group_does_not_hold_up_the_others() -> None:
    waiting = [Waiting(1, "a", False), Waiting(2, "b", True), Waiting(3, "a", True)]
    assert plan_receive(waiting, 10) == [2]


def test_the_same_deduplication_id_in_two_groups() -> None:
    # LocalStack #10460: under group scope both sends are stored; floci #901: scope honoured
    one = deduplication_key(GROUP_SCOPE, "g1", "d", b"x")
    two = deduplication_key(GROUP_SCOPE, "g2", "d", b"x")
    assert one != two
    assert deduplication_key(QUEUE_SCOPE, "g1", "d", b"x") == deduplication_key(
        QUEUE_SCOPE, "g2", "d", b"x"
    )


def test_content_based_deduplication_hashes_the_body() -> None:
    assert deduplication_key(CONTENT, "g", None, b"a") == deduplication_key(
        CONTENT, "h", None, b"a"
    )
    assert deduplication_key(CONTENT, "g", None, b"a") != deduplication_key(
        CONTENT, "g", None, b"b"
    )
    # an explicit id wins over the body
    assert deduplication_key(CONTENT, "g", "d", b"a") == deduplication_key(CONTENT, "g", "d", b"b")
    with pytest.raises(InvalidRequest, match="content_based_deduplication"):
        deduplication_key(QUEUE_SCOPE, "g", None, b"a")


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "é", 7])
def test_ids_are_what_sqs_takes(bad: object) -> None:
    with pytest.raises(InvalidRequest):
        check_id(bad, "group_id")
    assert check_id("order-42!~", "group_id") == "order-42!~"
