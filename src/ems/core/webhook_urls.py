"""Webhook URLs as subscriptions accept them: absolute http(s), with a host DNS can carry."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from ems.core.errors import InvalidWebhookUrl, quoted

MAX_URL_CHARS: Final = 2048


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host that DNS can name; the SSRF guard checks where it
    leads separately."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidWebhookUrl(f"The webhook URL is longer than {MAX_URL_CHARS} characters.")
    if _UNSAFE_IN_URL.search(url):
        # urlsplit would quietly drop tabs and newlines, and a NUL cannot be stored (PostgreSQL
        # text): a URL that is not what it looks like is refused, not repaired
        raise InvalidWebhookUrl(
            "The webhook URL must not contain spaces or control characters; percent-encode them."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookUrl(f"The webhook URL is not valid: {error}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl(
            "The webhook URL must be an absolute http:// or https:// URL with a host; got "
            f"{quoted(url, 80)}."
        )
    if parts.fragment:
        raise InvalidWebhookUrl("The webhook URL must not have a #fragment.")
    del port
    _check_host(parts.hostname)
    return url


# C0 and C1 controls, DEL, and every Unicode space (a lone surrogate cannot be stored either)
_UNSAFE_IN_URL: Final = re.compile(r"[\x00-\x20\x7f-\x9f\s\ud800-\udfff]")


def _check_host(host: str) -> None:
    """A host name DNS can carry (RFC 1035: labels of 1 to 63 octets, 253 in all, after IDNA),
    or an IP literal; anything else would fail later, deep inside the resolver."""
    if ":" in host:  # an IPv6 literal: urlsplit has already taken the brackets off
        return
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise InvalidWebhookUrl(
            "The webhook URL's host is not a valid host name: each dot-separated label must be "
            "1 to 63 characters (after IDNA encoding)."
        ) from None
    if len(encoded.rstrip(b".")) > 253:
        raise InvalidWebhookUrl("The webhook URL's host name is longer than 253 characters.")
