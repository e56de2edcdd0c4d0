"""Sending the mails of email subscriptions, through the same outbox as webhook pushes.

The dispatcher (delivery/dispatcher.py) claims, leases, retries and records email deliveries
exactly like webhook pushes; this module makes one attempt: it composes the mail
(delivery/mail.py), holds it back if its recipient had enough mail for now, and sends it
(delivery/smtp.py). What the SMTP server answers decides what happens next:

- 2xx: delivered (to the SMTP server: what happens after that is mail's business).
- 5xx to the recipient or to the message (``RCPT``, ``DATA``): failed for good, recorded on the
  subscription and put in its dead-letter queue if it names one. Sending again would get the
  same refusal.
- Everything else is retried with the subscription's backoff: 4xx (greylisting, a full
  mailbox, a busy server), no connection, a timeout, a TLS failure, and the problems that are
  the operator's to fix (authentication refused, the From address refused, no STARTTLS, a host
  on a private address): the mail waits for the fix instead of being lost.

A per-recipient rate limit (``--email-rate-limit`` mails per minute, a token bucket per
address, per node) keeps a busy topic, or someone subscribing one address to many topics, from
flooding a mailbox. A held-back mail is *deferred*: due again when the bucket allows, and not
counted as an attempt.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final

import aiosmtplib

from ems.core import unsubscribe
from ems.core.topic_models import DeliveryKind, DeliveryTask
from ems.delivery import mail
from ems.delivery.smtp import SmtpPool
from ems.delivery.ssrf import ForbiddenHost, UnresolvableHost

log = logging.getLogger("ems.delivery")

MAX_TRACKED_RECIPIENTS: Final = 100_000


@dataclass(frozen=True, slots=True)
class SendFailure:
    error: str
    status: int | None = None  # the SMTP reply code, if the server answered
    permanent: bool = False


class RecipientLimiter:
    """A token bucket per recipient: ``per_minute`` mails, refilled evenly over the minute."""

    def __init__(self, per_minute: int, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def wait(self, address: str) -> float:
        """Take a token and return 0, or return the seconds until one is free."""
        now = self.now()
        key = address.lower()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= MAX_TRACKED_RECIPIENTS and key not in self._buckets:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: they hold nothing a new one would not."""
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]


class Mailer:
    def __init__(
        self, sender: mail.Sender, pool: SmtpPool, *, per_minute: int, id_prefix: str = ""
    ) -> None:
        self.sender = sender
        self.pool = pool
        self.limiter = RecipientLimiter(per_minute)
        self.id_prefix = id_prefix

    def unsubscribe_url(self, task: DeliveryTask) -> str:
        token = unsubscribe.token(task.subscription_id, task.signing_secret, self.id_prefix)
        return f"{self.sender.base_url}/ems/topic/unsubscribe/{token}"

    def hold(self, task: DeliveryTask) -> float:
        """Seconds this mail must wait for its recipient's rate limit; 0 to send it now."""
        return self.limiter.wait(mail.recipient(task))

    def compose(self, task: DeliveryTask) -> EmailMessage:
        if task.kind is DeliveryKind.CONFIRMATION:
            return mail.confirmation(task, self.sender)
        return mail.notification(task, self.sender, self.unsubscribe_url(task))

    async def send(self, task: DeliveryTask) -> SendFailure | None:
        """Send the task's mail; None when the SMTP server took it."""
        message = self.compose(task)
        try:
            await self.pool.send(
                message,
                self.sender.address,
                mail.recipient(task),
                seconds=task.policy.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            return SendFailure(
                f"the SMTP server refused the recipient: {text}",
                codes[0] if codes else None,
                permanent=any(500 <= code < 600 for code in codes),
            )
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            return SendFailure(
                f"the SMTP server refused the mail: {error.code} {error.message}",
                error.code,
                permanent=500 <= error.code < 600,
            )
        except aiosmtplib.SMTPAuthenticationError as error:
            return SendFailure(
                f"the SMTP server refused EMS's login ({error.code}): the operator must fix "
                "EMS_SMTP_URL",
                error.code,
            )
        except aiosmtplib.SMTPNotSupported:
            return SendFailure(
                "the SMTP server does not offer STARTTLS: EMS never sends mail in the clear "
                "(the operator can use smtps://)"
            )
        except aiosmtplib.SMTPResponseException as error:
            return SendFailure(f"SMTP {error.code} {error.message}", error.code)
        except ForbiddenHost as error:
            log.warning("email: the SMTP server %s", error)
            return SendFailure(
                "the SMTP server's address is not public: the operator must allow it with "
                "--smtp-allow-private"
            )
        except UnresolvableHost as error:
            return SendFailure(f"cannot reach the SMTP server: {error}")
        except TimeoutError:
            seconds = task.policy.timeout_seconds
            return SendFailure(f"the SMTP server did not answer within {seconds} s")
        except aiosmtplib.SMTPException as error:
            return SendFailure(f"cannot reach the SMTP server: {error.message}")
        except OSError as error:
            # the reason only: the server's address is the operator's business, not the
            # topic holder's, who reads this in the subscription's last_error
            reason = os.strerror(error.errno) if error.errno else type(error).__name__
            return SendFailure(f"cannot reach the SMTP server: {reason}")
        return None

    async def close(self) -> None:
        await self.pool.close()
