"""How message bodies and times are written in JSON documents."""

from __future__ import annotations

import base64
import functools
import time


def encode_body(body: bytes) -> tuple[str, str]:
    """A body as JSON can carry it: the text when it is UTF-8, else base64."""
    try:
        return body.decode(), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), "base64"


def rfc3339(ms: int | None) -> str | None:
    """RFC 3339 UTC with milliseconds; the per-second part is cached (two per message)."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
