"""The links in mails: what a person (or a mail client) gets from an unsubscribe link, and the
pages of confirmation links (server/topics.py).

``/ems/topic/unsubscribe/{token}``:

- ``POST`` unsubscribes: what a mail client's unsubscribe button sends (RFC 8058 one-click,
  body ``List-Unsubscribe=One-Click``; any body is accepted), and what the page's button sends.
- ``GET`` only shows a page with that button. Mail security scanners and link previews open
  every link in a mail; if opening the link unsubscribed, a scanner would unsubscribe readers
  who never asked to (RFC 8058 section 3.2 says the same).

Answers are a small HTML page for browsers (``Accept: text/html``) and JSON otherwise. The pages
show no id and no address: the link may be forwarded with the mail.
"""

from __future__ import annotations

from typing import Final

from ems.asgi import (
    Handler,
    PathArgs,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    respond,
    respond_json,
)
from ems.core.topics import TopicService

UNSUBSCRIBE_ROUTE: Final = "/ems/topic/unsubscribe/{token}"
# RFC 8058's body is 26 bytes; a browser form posts a few more
MAX_LINK_BODY: Final = 1024
HTML: Final = [
    (b"content-type", b"text/html; charset=utf-8"),
    # the page is for people: nothing on it loads anything, and no other site may frame it
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        + b"frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),  # the link is a credential: keep it out of Referer
]


def wants_html(scope: Scope) -> bool:
    accept = header(scope, b"accept") or b""
    return b"text/html" in accept


def page(title: str, text: str, button: str | None = None) -> bytes:
    """A page for people; ``button`` POSTs to the page's own URL."""
    # the unsubscribe form posts what a mail client's one-click button posts (RFC 8058)
    field = (
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        if button == "Unsubscribe"
        else ""
    )
    form = f'<form method="post">{field}<button type="submit">{button}</button></form>'
    form = form if button else ""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title>"
        "<style>body{font:16px system-ui,sans-serif;max-width:32em;margin:3em auto;"
        "padding:0 1em}button{font:inherit;padding:.5em 1.5em}</style>"
        f"<h1>{title}</h1><p>{text}</p>{form}</html>"
    ).encode()


class EmailLinks:
    def __init__(self, service: TopicService) -> None:
        self.service = service
        self.routes: dict[str, Handler] = {"GET": self.ask, "POST": self.unsubscribe}

    async def ask(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        """Nothing changes: a page with the button, or JSON saying what to POST."""
        if wants_html(scope):
            body = page(
                "Unsubscribe",
                "Stop receiving these mails? Nothing changes until you press the button.",
                button="Unsubscribe",
            )
            return await respond(send, 200, body, HTML)
        return await respond_json(
            send, 200, {"unsubscribe": "POST to this URL to unsubscribe (RFC 8058 one-click)."}
        )

    async def unsubscribe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        await read_body(scope, receive, MAX_LINK_BODY)
        await self.service.unsubscribe_by_link(path["token"])
        if wants_html(scope):
            body = page("Unsubscribed", "You will receive no more mails from this subscription.")
            return await respond(send, 200, body, HTML)
        return await respond_json(send, 200, {"status": "unsubscribed"})


def confirm_page() -> bytes:
    return page(
        "Confirm your subscription",
        "Receive this topic's messages? Nothing is sent until you press the button.",
        button="Confirm",
    )


def confirmed_page() -> bytes:
    return page(
        "Subscription confirmed",
        "You will receive its messages from now on. Every mail has a link to unsubscribe.",
    )
