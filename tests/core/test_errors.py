"""What problem details may show of what a client sent."""

from __future__ import annotations

import pytest

from ems.core.errors import quoted, redacted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("visibility_timeout", "visibility_timeout"),
        ("wait_seconds_typo_long", "wait_seconds_typo_long"),
        ("3J7x9Vq2ZkLmN0pQrStUvWxY", "<redacted>"),
        ("/message/3J7x9Vq2ZkLmN0pQrStUvWxY/x", "/message/<redacted>/x"),
        (12345, "12345"),
        ("x" * 100, "x" * 40 + "..."),
    ],
)
def test_details_never_show_what_could_be_an_id(value: object, shown: str) -> None:
    assert redacted(value) == shown
    assert quoted(value) == repr(shown)
