"""Message ids are random version-4 UUIDs, one at a time or a batch's worth at once."""

from __future__ import annotations

import uuid

from ems.core.queues import new_message_id, new_message_ids


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
