"""SQS queue names (ems.sqs), as every Store must keep them."""

from __future__ import annotations

import os

from ems.core.models import SqsQueue
from ems.storage.base import Store


def entry(name: str, account: str = "000000000000", **fields: object) -> SqsQueue:
    values: dict[str, object] = {
        "queue_hash": os.urandom(32),
        "sealed_queue_id": os.urandom(40),
        "created_at_ms": 1_000,
        "modified_at_ms": 1_000,
    }
    values.update(fields)
    return SqsQueue(account, name, **values)  # type: ignore[arg-type]


async def test_a_name_is_added_once_and_the_first_entry_wins(store: Store) -> None:
    first = entry("orders", tags={"team": "a"})
    assert await store.add_sqs_queue(first) == first
    assert await store.add_sqs_queue(entry("orders")) == first
    assert await store.get_sqs_queue("000000000000", "orders") == first
    assert await store.get_sqs_queue("000000000000", "other") is None
    assert await store.get_sqs_queue("111111111111", "orders") is None


async def test_names_list_by_account_and_prefix_in_bytewise_order(store: Store) -> None:
    for name in ["b-2", "a_1", "B", "a1", "ab", "a-"]:
        await store.add_sqs_queue(entry(name))
    await store.add_sqs_queue(entry("a_other", account="111111111111"))
    names = [e.name for e in await store.list_sqs_queues("000000000000")]
    assert names == ["B", "a-", "a1", "a_1", "ab", "b-2"]
    # '_' is an ordinary character in a prefix, not a wildcard
    assert [e.name for e in await store.list_sqs_queues("000000000000", prefix="a_")] == ["a_1"]
    page = await store.list_sqs_queues("000000000000", prefix="a", after="a1", limit=1)
    assert [e.name for e in page] == ["a_1"]


async def test_update_sets_the_time_and_tags_and_delete_forgets(store: Store) -> None:
    await store.add_sqs_queue(entry("q", tags={"x": "1"}))
    await store.update_sqs_queue("000000000000", "q", modified_at_ms=5_000, tags=None)
    found = await store.get_sqs_queue("000000000000", "q")
    assert found is not None
    assert (found.modified_at_ms, dict(found.tags)) == (5_000, {"x": "1"})
    await store.update_sqs_queue("000000000000", "q", modified_at_ms=6_000, tags={})
    found = await store.get_sqs_queue("000000000000", "q")
    assert found is not None
    assert (found.modified_at_ms, dict(found.tags)) == (6_000, {})
    await store.delete_sqs_queue("000000000000", "q")
    await store.delete_sqs_queue("000000000000", "q")
    await store.update_sqs_queue("000000000000", "q", modified_at_ms=7_000, tags=None)
    assert await store.get_sqs_queue("000000000000", "q") is None
