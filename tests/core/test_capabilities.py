"""Ids: full entropy, and usable as command-line arguments."""

from __future__ import annotations

from ems.core import capabilities


def test_new_ids_never_start_with_a_dash() -> None:
    # a token starts with "-" one time in 64: 5000 ids would include ~78 such without the rule
    ids = [capabilities.new_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
    assert all(capabilities.looks_like_id(i) and len(i) == 24 for i in ids)
