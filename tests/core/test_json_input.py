"""Client JSON: nesting, text that cannot be stored, and batches parsed entry by entry."""

from __future__ import annotations

import asyncio
import json

import pytest

from ems.core.errors import InvalidRequest, TooManyEntries
from ems.core.json_input import WHOLE_PARSE_CHARS, parse_batch, parse_json


def test_a_document_parses_as_json_does() -> None:
    document = {"a": [1, 2.5, None, True, {"b": "é\U0001f600"}]}
    assert parse_json(json.dumps(document).encode()) == document
    assert parse_json(json.dumps(document, ensure_ascii=False).encode()) == document
    assert parse_json(b"\xef\xbb\xbf" + b'{"bom": 1}') == {"bom": 1}


@pytest.mark.parametrize(
    "body",
    [b"[" * 3000 + b"]" * 3000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"[" * 100_000],
)
def test_deep_nesting_is_an_invalid_request_not_a_recursion_error(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="nest too deep"):
        parse_json(body)


@pytest.mark.parametrize(
    "body",
    [b'"\\ud800"', b'{"\\udfff": 1}', b'["ok", {"k": ["\\uDBFF"]}]', b'"a\\ud800\\u0041"',
     b'"\\udc00\\ud800"'],
)  # fmt: skip
def test_a_lone_surrogate_anywhere_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="lone surrogate"):
        parse_json(body)


def test_raw_surrogate_bytes_are_not_utf8() -> None:
    """json.loads(bytes) would decode them with "surrogatepass"."""
    with pytest.raises(InvalidRequest, match="not UTF-8"):
        parse_json(b'{"a": "\xed\xa0\x80"}')


def test_a_surrogate_pair_is_one_character_and_is_kept() -> None:
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert parse_json(b'"\\\\ud800"') == "\\ud800", "an escaped backslash, not an escape"


def test_a_caller_that_checks_its_own_strings_may_take_surrogates() -> None:
    assert parse_json(b'"\\ud800"', surrogates=True) == "\ud800"


def test_the_refusal_says_where() -> None:
    with pytest.raises(InvalidRequest, match=r"at messages\[1\]\.attributes\.k"):
        parse_json(b'{"messages": [{"body": "x"}, {"attributes": {"k": "\\ud800"}}]}')


def batch(*entries: object, field: str = "messages") -> bytes:
    return json.dumps({field: list(entries)}).encode()


@pytest.mark.parametrize("padding", [0, WHOLE_PARSE_CHARS], ids=["whole", "entry-by-entry"])
async def test_a_batch_gives_its_entries(padding: int) -> None:
    entries = [{"body": "a"}, {"body": "b", "attributes": {"k": "v"}}, "x", 1, None]
    assert await parse_batch(b" " * padding + batch(*entries), "messages", 10) == entries
    spaced = b' \n{ "messages" :\t[ 1 , 2 ]\r\n} \n' + b" " * padding
    assert await parse_batch(spaced, "messages", 10) == [1, 2]
    with pytest.raises(TooManyEntries, match="more than 4"):
        await parse_batch(b" " * padding + batch(*entries), "messages", 4)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "needs a JSON body"),
        (b"  ", "needs a JSON body"),
        (b"[1]", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"other": [1]}', "must be a JSON object"),
        (b'{"messages": [1], "x": 2}', "must be a JSON object"),
        (b'{"messages": [1]', "not valid JSON"),
        (b'{"messages": []}', "non-empty array"),
        (b'{"messages": {}}', "non-empty array"),
        (b'{"messages": [1,]}', "not valid JSON"),
        (b'{"messages": [1 2]}', "not valid JSON"),
        (b'{"messages": [1]} x', "not valid JSON"),
        (b'{"messages": [{"a": }]}', "not valid JSON"),
        (b'{"messages": [' + b"[" * 3000 + b"]", "nest too deep"),
        (b'{"messages": [{"body": "\\ud800"}]}', "lone surrogate"),
        (b'{"messages": ["\xff"]}', "not UTF-8"),
    ],
)
@pytest.mark.parametrize("padding", [0, WHOLE_PARSE_CHARS], ids=["whole", "entry-by-entry"])
async def test_a_malformed_batch_is_refused(body: bytes, problem: str, padding: int) -> None:
    """The same answer whether the body is small enough to be parsed whole or not."""
    with pytest.raises(InvalidRequest, match=problem):
        await parse_batch(b" " * padding + body, "messages", 10)


async def test_parsing_stops_at_the_first_entry_over_the_limit() -> None:
    """What follows entry 4 is never read: here it is not even JSON."""
    body = b'{"entries": [1, 2, 3, 4, this is never parsed' + b" " * WHOLE_PARSE_CHARS
    with pytest.raises(TooManyEntries, match="more than 3 entries") as refused:
        await parse_batch(body, "entries", 3)
    assert refused.value.parameter == "entries"


async def test_a_large_batch_lets_the_event_loop_run_while_it_is_parsed() -> None:
    entries = [{"body": "x" * 1000} for _ in range(1000)]
    body = batch(*entries)
    assert len(body) > 3 * WHOLE_PARSE_CHARS
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    assert await parse_batch(body, "messages", 1000) == entries
    task.cancel()
    assert ticks >= 3, "other tasks ran between slices of the parse"
