"""The mails of email subscriptions: the confirmation request and one notification per message.

Every header is built here from checked parts (addresses by core/email_address.py, names and
subjects stripped of control characters), and Python's ``email`` package with the SMTP policy
refuses a header value with a line break in any case: nothing a publisher sends can add a
header or a recipient.

- ``Message-ID`` is made from the delivery's id, which is the same at every attempt: a mail
  sent again after a timeout (the server may have taken the first one) is recognisably the
  same mail, and mail systems that deduplicate by Message-ID drop the copy.
- Notifications carry ``List-Unsubscribe`` with ``List-Unsubscribe-Post:
  List-Unsubscribe=One-Click`` (RFC 8058): mail clients show an unsubscribe button that POSTs
  to the link, and large mailbox providers expect it of bulk senders. The link is in the text
  too, for readers whose client shows no button.
- ``Auto-Submitted: auto-generated`` (RFC 3834) keeps vacation auto-replies away.
- The body is the message's text when it is text: valid UTF-8 whose ``Content-Type`` is
  absent, ``text/*``, JSON, XML or form data (what ``curl -d`` sends). Any other body (binary,
  or a non-text content type) is attached as a file named ``message`` with the message's
  content type, below a line that says so: a mail client shows it as an attachment instead of
  as garbled text.
- A message published through the SNS API to an SNS ``email`` subscription is its ``Message``
  text (the ``email`` entry of a ``MessageStructure=json`` message, else ``default``) with the
  Publish ``Subject`` as the mail's; to ``email-json`` it is the signed ``Notification`` JSON
  document, as SNS mails them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from typing import Final

from ems.core import sns_envelopes
from ems.core.topic_models import DeliveryTask, TopicMessage

MAX_SUBJECT_CHARS: Final = 200
# bodies of these types are text too: JSON and XML, and what `curl -d` sends unless told
_TEXT_TYPES: Final = frozenset(
    {"application/json", "application/xml", "application/x-www-form-urlencoded"}
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Sender:
    """What every mail of this server says about where it comes from."""

    address: str  # EMS_SMTP_FROM
    base_url: str  # EMS_PUBLIC_URL, for links

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def recipient(task: DeliveryTask) -> str:
    """The address an email subscription's task goes to (its URL is ``mailto:`` and it)."""
    return task.url.removeprefix("mailto:")


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """``text`` as a header may carry it: control characters and line breaks become spaces."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _name(task: DeliveryTask) -> str:
    return one_line(task.policy.display_name or f"EMS topic {task.topic_public_id}", 100)


def _base(task: DeliveryTask, sender: Sender, subject: str) -> EmailMessage:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr((_name(task), sender.address))
    mail["To"] = recipient(task)
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{task.webhook_id}.{task.subscription_id}@{sender.domain}>"
    published = task.published_at_ms
    mail["Date"] = formatdate(published / 1000 if published else None, usegmt=True)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"  # Exchange's own way of saying the same
    mail["EMS-Topic-Id"] = task.topic_public_id
    mail["EMS-Subscription-Id"] = task.subscription_id
    return mail


def confirmation(task: DeliveryTask, sender: Sender) -> EmailMessage:
    """The double opt-in request: nothing else is sent to the address until its link is
    opened. It has no unsubscribe link: ignoring it is how one declines."""
    name = _name(task)
    mail = _base(task, sender, one_line(f"Confirm your subscription to {name}"))
    mail.set_content(
        f"Someone asked to send the messages of {name} to {recipient(task)}.\n\n"
        f"To receive them, confirm by opening this link:\n\n    {task.confirm_url}\n\n"
        "If you did not ask for this, ignore this mail: you will get nothing more.\n"
    )
    return mail


def notification(task: DeliveryTask, sender: Sender, unsubscribe_url: str) -> EmailMessage:
    message = task.message
    assert message is not None
    name = _name(task)
    subject = (message.attributes or {}).get("subject")
    if message.sns is not None:
        subject = message.sns.subject
    mail = _base(
        task, sender, one_line(subject) if subject else f"{name}: message {message.message_id}"
    )
    mail["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["EMS-Message-Id"] = message.message_id
    if message.correlation_id is not None:
        mail["EMS-Correlation-Id"] = one_line(message.correlation_id)
    footer = (
        f"\n\n--\nYou get this mail because {recipient(task)} subscribed to {name}.\n"
        f"Unsubscribe: {unsubscribe_url}\n"
    )
    text = body_text(message) if task.sns is None else _sns_text(task, message)
    if task.sns is not None and task.sns.protocol == "email-json":
        # the body is the JSON document alone, for programs to parse; the document has its
        # UnsubscribeURL, and the List-Unsubscribe header is there for mail clients
        mail.set_content(text)
        return mail
    if text is not None:
        mail.set_content(text + footer)
        return mail
    content_type = message.content_type or "application/octet-stream"
    mail.set_content(
        f"This message has a body of {len(message.body)} bytes of {one_line(content_type, 100)}; "
        "it is attached." + footer
    )
    maintype, _, subtype = content_type.partition(";")[0].strip().partition("/")
    if not maintype or not subtype or maintype.lower() in ("multipart", "message"):
        maintype, subtype = "application", "octet-stream"
    mail.add_attachment(message.body, maintype=maintype, subtype=subtype, filename="message")
    return mail


def _sns_text(task: DeliveryTask, message: TopicMessage) -> str:
    """What an SNS email subscription mails (see the module's docstring)."""
    sub = task.sns
    assert sub is not None
    if message.sns is None:  # published natively: the body as native email sends it
        return body_text(message) or message.body.decode("utf-8", "replace")
    if sub.protocol == "email-json":
        return sns_envelopes.notification(message, message.sns, sub)
    return sns_envelopes.raw_message(message, sub)


def body_text(message: TopicMessage) -> str | None:
    """The body as the text of a mail, or None when it is not text."""
    content_type = (message.content_type or "text/plain").split(";")[0].strip().lower()
    if not (
        content_type.startswith("text/")
        or content_type in _TEXT_TYPES
        or content_type.endswith(("+json", "+xml"))
    ):
        return None
    try:
        return message.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
