"""JSON from clients, parsed so that nothing in it can hurt the server or the store later.

Three hazards hide in valid-looking JSON. Nesting: ``json`` recurses once per level, so three
thousand ``[`` raise ``RecursionError`` (a 500 if nobody catches it). Text that is not text: a
``\\ud800`` escape, or the same surrogate as raw bytes (``json.loads`` of bytes lets them through),
decodes to a lone surrogate, which no UTF-8 store can hold; it used to fail the whole group commit
that carried it, and the problem renderer that echoed it. Size: a 16 MiB batch of a million tiny
entries costs seconds and hundreds of MiB to parse whole, all on the event loop, before anyone can
count its entries.

So: bodies must be strict UTF-8; a document with a lone surrogate anywhere (a key, a value, an
unknown field) is refused as a whole; and batches are parsed one entry at a time, stopping at the
first entry over the limit and letting the event loop run between slices.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from typing import Any, Final

from ems.core.errors import InvalidRequest, TooManyEntries, redacted

# batch bodies up to this are parsed in one call; larger ones entry by entry, letting the event
# loop run after each this much input
WHOLE_PARSE_CHARS: Final = 256 * 1024

_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_BLANK: Final = frozenset(" \t\n\r")
# only a \u escape in the D800-DFFF range can make a surrogate once the text is strict UTF-8
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def parse_json(data: bytes | str, *, surrogates: bool = False) -> Any:
    """A whole JSON document; raises InvalidRequest (never RecursionError, and never a document
    holding a lone surrogate unless ``surrogates``: a caller that checks every string itself,
    and must say which one is wrong, as the SQS API does)."""
    text = _text(data)
    try:
        document = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as error:
        raise InvalidRequest(f"The body is not valid JSON: {error}.") from None
    if not surrogates and _may_hold_surrogates(text):
        _refuse_surrogates(document, "")
    return document


async def parse_batch(data: bytes, field: str, max_entries: int) -> list[Any]:
    """The entries of ``{"<field>": [entry, ...]}``, at most ``max_entries`` of them.

    A body of up to :data:`WHOLE_PARSE_CHARS` is parsed in one call (the fastest way, and a
    body that small costs a few milliseconds however it is made). A larger one is parsed entry
    by entry: it is refused as soon as it has one entry too many, and the event loop runs every
    :data:`WHOLE_PARSE_CHARS` of input, so it delays other requests by a slice at a time.
    """
    text = _text(data)
    if _skip(text, 0) == len(text):
        raise InvalidRequest("The request needs a JSON body.")
    if len(text) <= WHOLE_PARSE_CHARS:
        return _entries(parse_json(text), field, max_entries)
    entries = await _scan_entries(text, field, max_entries)
    if _may_hold_surrogates(text):
        _refuse_surrogates(entries, field)
    return entries


def _entries(document: Any, field: str, max_entries: int) -> list[Any]:
    if not isinstance(document, dict) or set(document) != {field}:
        raise _shape(field)
    entries = document[field]
    if not isinstance(entries, list) or not entries:
        raise _not_an_array(field)
    if len(entries) > max_entries:
        raise _too_many(field, max_entries)
    return entries


async def _scan_entries(text: str, field: str, max_entries: int) -> list[Any]:
    """:func:`_entries` of the document ``text``, read one entry at a time."""
    position = _skip(text, 0)
    if text[position : position + 1] != "{":
        raise _shape(field)
    position = _skip(text, position + 1)
    if text[position : position + 1] != '"':
        raise _shape(field)
    key, position = _value(text, position)
    position = _skip(text, position)
    if key != field or text[position : position + 1] != ":":
        raise _shape(field)
    position = _skip(text, position + 1)
    if text[position : position + 1] != "[":
        raise _not_an_array(field)
    position = _skip(text, position + 1)
    if text[position : position + 1] == "]":
        raise _not_an_array(field)
    entries: list[Any] = []
    next_yield = position + WHOLE_PARSE_CHARS
    while True:
        entry, position = _value(text, position)
        entries.append(entry)
        if len(entries) > max_entries:
            raise _too_many(field, max_entries)
        if text[position : position + 1] in _BLANK:
            position = _skip(text, position)
        separator = text[position : position + 1]
        if separator == "]":
            break
        if separator != ",":
            raise _invalid("Expecting ',' delimiter", text, position)
        position += 1
        if text[position : position + 1] in _BLANK:
            position = _skip(text, position)
        if position >= next_yield:
            await asyncio.sleep(0)
            next_yield = position + WHOLE_PARSE_CHARS
    position = _skip(text, position + 1)
    after = text[position : position + 1]
    if after == ",":
        raise _shape(field)  # another member after the array
    if after != "}":
        raise _invalid("Expecting ',' delimiter", text, position)
    position = _skip(text, position + 1)
    if position != len(text):
        raise _invalid("Extra data", text, position)
    return entries


def _shape(field: str) -> InvalidRequest:
    return InvalidRequest(f'The body must be a JSON object {{"{field}": [...]}}.')


def _not_an_array(field: str) -> InvalidRequest:
    return InvalidRequest(f"{field} must be a non-empty array.", parameter=field)


def _too_many(field: str, max_entries: int) -> TooManyEntries:
    return TooManyEntries(
        f"{field} has more than {max_entries} entries; a batch takes at most {max_entries}. "
        "Split it into several requests.",
        parameter=field,
    )


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        # strict: json.loads(bytes) would decode with "surrogatepass"
        return data.decode()
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"The body is not valid JSON: it is not UTF-8 text (byte {error.start})."
        ) from None


def _may_hold_surrogates(text: str) -> bool:
    # looking for one character is a memchr (a two-character search is ten times slower):
    # most bodies have no backslash at all
    return text.find("\\") != -1 and _SURROGATE_ESCAPE.search(text) is not None


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value(text: str, position: int) -> tuple[Any, int]:
    try:
        value, end = _DECODER.raw_decode(text, position)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"The body is not valid JSON: {error}.") from None
    return value, end


def _invalid(reason: str, text: str, position: int) -> InvalidRequest:
    error = json.JSONDecodeError(reason, text, position)
    return InvalidRequest(f"The body is not valid JSON: {error}.")


def _too_deep() -> InvalidRequest:
    return InvalidRequest("The body's arrays or objects nest too deep to be parsed.")


def _refuse_surrogates(document: Any, root: str) -> None:
    """Raise if any key or string in ``document`` holds a lone surrogate; the detail says where
    (iterative: the document may be as deep as the parser allowed)."""
    stack: list[tuple[Any, str]] = [(document, root)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise _unstorable(where)
        elif isinstance(node, dict):
            for key, value in node.items():
                if _SURROGATE.search(key):
                    raise _unstorable(f"{where} (a key)" if where else "a key")
                name = redacted(key)
                stack.append((value, f"{where}.{name}" if where else name))
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{i}]") for i, value in enumerate(node))


def _unstorable(where: str) -> InvalidRequest:
    place = f" at {where}" if where else ""
    return InvalidRequest(
        f"The body holds text that is not valid Unicode{place}: a \\ud800-\\udfff escape "
        "without its pair (a lone surrogate), which cannot be stored. Send the character itself, "
        "or both halves of its surrogate pair."
    )
