"""Message ids are random version-4 UUIDs, one at a time or a batch's worth at once, never
repeated across threads or forked processes."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from ems.core.ids import new_message_id, new_message_ids


def test_ids_are_version_4_uuids_and_distinct() -> None:
    ids = [new_message_id(), *new_message_ids(1000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_a_batch_of_none_is_empty() -> None:
    assert new_message_ids(0) == []


def test_ids_stay_distinct_past_one_read_of_the_random_source() -> None:
    # the pool holds 2048 random bytes: 128 ids; go well past several refills
    ids = [new_message_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)


def test_another_thread_gets_ids_of_its_own() -> None:
    here = [new_message_id() for _ in range(50)]
    there: list[str] = []
    thread = threading.Thread(target=lambda: there.extend(new_message_id() for _ in range(50)))
    thread.start()
    thread.join()
    assert len(set(here) | set(there)) == 100


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_message_id()  # the pool is filled: a copy of it goes to the child
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent, then out without cleanup
        os.close(read)
        os.write(write, "".join(new_message_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    parent = [new_message_id() for _ in range(5)]
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    child = [text[i : i + 36] for i in range(0, len(text), 36)]
    assert len(child) == 5
    assert not set(child) & set(parent)


def test_threads_racing_for_a_fresh_pool_never_share_its_digits() -> None:
    """Several threads make their first id at the same moment: one claims the pool, the others
    read the OS; no two ever take the same digits."""
    from ems.core.ids import _RandomHex

    pool = _RandomHex()
    start = threading.Barrier(8)
    taken: list[list[str]] = [[] for _ in range(8)]

    def draw(mine: list[str]) -> None:
        start.wait()
        mine.extend(pool.take32() for _ in range(300))

    threads = [threading.Thread(target=draw, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [digits for mine in taken for digits in mine]
    assert len(set(every)) == len(every) == 2400
