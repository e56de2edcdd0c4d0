"""Email addresses EMS accepts for email subscriptions.

An address ends up in an SMTP ``RCPT TO`` command and in the ``To:`` header of every mail, so
it must be exactly one plain mailbox: RFC 5321's ``Local-part@Domain`` with a dot-atom local part
(no quoted strings, no comments, no display name) and a DNS domain. Anything else is refused,
not repaired: a CR or LF in it would start a new SMTP command or header (header injection), a
comma or angle bracket would add recipients, and a quoted local part is legal but lets both
through in ways mail servers parse differently. Non-ASCII domains are refused with a hint to use
their ``xn--`` form; non-ASCII local parts (SMTPUTF8) are not supported by every relay.
"""

from __future__ import annotations

import re
from typing import Final

from ems.core.errors import InvalidEmailAddress, quoted

MAX_ADDRESS_CHARS: Final = 254  # RFC 5321's path limit (256) less the angle brackets
MAX_LOCAL_CHARS: Final = 64
_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL: Final = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_CONTROL_OR_SPACE: Final = re.compile(r"[\x00-\x20\x7f-\x9f\s]")


def check_email_address(value: str) -> str:
    """``value`` if it is one plain mailbox EMS can send to; raise InvalidEmailAddress."""
    if _CONTROL_OR_SPACE.search(value):
        raise InvalidEmailAddress(
            "The email address must not contain spaces, line breaks or other control "
            "characters: give one plain address such as ada@example.com.",
            parameter="email",
        )
    if len(value) > MAX_ADDRESS_CHARS:
        raise InvalidEmailAddress(
            f"The email address is longer than {MAX_ADDRESS_CHARS} characters.", parameter="email"
        )
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmailAddress(
            f"{quoted(value, 80)} is not an email address: give one plain address such as "
            "ada@example.com.",
            parameter="email",
        )
    if len(local) > MAX_LOCAL_CHARS or not _LOCAL.fullmatch(local):
        raise InvalidEmailAddress(
            "The part before @ must be at most 64 letters, digits and !#$%&'*+/=?^_`{|}~- "
            "characters in dot-separated words (no quotes, commas, angle brackets or spaces).",
            parameter="email",
        )
    if not domain.isascii():
        raise InvalidEmailAddress(
            "The email domain must be ASCII: write an internationalized domain in its "
            "xn-- (IDNA) form.",
            parameter="email",
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidEmailAddress(
            "The email domain must be a DNS name with at least two labels of letters, digits "
            "and hyphens, such as example.com (IP address literals are not accepted).",
            parameter="email",
        )
    return value
