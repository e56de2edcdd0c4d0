"""Query strings: the split that skips parse_qsl reads every query exactly as parse_qsl does."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from ems.asgi import _pairs, query
from ems.core.errors import InvalidRequest

CASES = [
    "a=1", "a=1&b=2", "a=", "a=&b=", "a", "a=1&&b=2", "&", "=", "=x", "a=b=c", "a=1&",
    "x=%41", "x=a+b", "é=ü", "a=1;b=2", "a=1&a=2", "max_messages=10&visibility_timeout=600",
]  # fmt: skip


@pytest.mark.parametrize("text", CASES)
def test_the_same_pairs_or_the_same_refusal_as_parse_qsl(text: str) -> None:
    try:
        expected: list[tuple[str, str]] | None = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True
        )
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):  # noqa: PT011 - parse_qsl's own error
            _pairs(text)
    else:
        assert _pairs(text) == expected


def test_a_query_refuses_a_field_without_a_value_and_names_unknown_ones() -> None:
    allowed = frozenset({"max_messages"})
    assert query({"query_string": b"max_messages=5"}, allowed) == {"max_messages": "5"}
    with pytest.raises(InvalidRequest, match="not valid URL-encoded"):
        query({"query_string": b"max_messages"}, allowed)
    with pytest.raises(InvalidRequest, match="Unknown query parameter"):
        query({"query_string": b"max_message=5"}, allowed)
