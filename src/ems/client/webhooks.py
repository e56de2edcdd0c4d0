"""Verifying webhook pushes in a receiver: the Standard Webhooks signature EMS sends.

>>> verify_webhook(secret, request.headers, request.body)   # doctest: +SKIP

raises :class:`InvalidSignature` unless the request was signed with the subscription's
``whsec_`` secret within the last five minutes. Drop duplicates by the ``webhook-id`` header: it
is the same on every retry of one push.
"""

from __future__ import annotations

from collections.abc import Mapping

from ems.delivery.signing import DEFAULT_TOLERANCE_SECONDS, InvalidSignature, verify

__all__ = ["InvalidSignature", "verify_webhook"]


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise InvalidSignature unless ``body`` and ``headers`` are a fresh push signed by EMS."""
    verify(secret, headers, body, tolerance=tolerance)
