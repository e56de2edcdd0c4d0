"""A real SMTP server on loopback for tests: aiosmtpd with STARTTLS required and AUTH.

It runs in its own thread (aiosmtpd's Controller), on a self-signed certificate for 127.0.0.1
(tests/tls.py), accepts one user, and records every mail it accepted. A script of SMTP replies
(consumed in order, at DATA) lets a test make it answer 451 or 550; ``stop`` and ``start`` take
it down and bring it back on the same port.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.e2e.server import free_port
from tests.tls import self_signed

USER = "ems"
PASSWORD = "s3cret pass"


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    connection: int  # which SMTP connection carried it (counts connections the server took)

    def __getitem__(self, name: str) -> str:
        value = self.message[name]
        return "" if value is None else str(value)

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        server = self.server
        with server.lock:
            content = envelope.original_content or b""
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            if server.script:
                reply = server.script.pop(0)
                if not reply.startswith("250"):
                    server.refused.append(parsed)
                    return reply
            server.mails.append(
                Mail(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    parsed,
                    id(session),
                )
            )
            server.lock.notify_all()
        return "250 OK"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == USER.encode()
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok)


class _Controller(Controller):
    """aiosmtpd's Controller, which also closes the connections it accepted when it stops (it
    would otherwise stop its loop with them open, and their sockets would leak)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session: SMTP = super().factory()  # type: ignore[no-untyped-call]
        self.sessions.append(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        async def hang_up() -> None:
            for session in self.sessions:
                if isinstance(session.transport, asyncio.Transport):
                    session.transport.abort()
            await asyncio.sleep(0.05)  # connection_lost runs, and the sockets are closed

        asyncio.run_coroutine_threadsafe(hang_up(), self.loop).result(5)
        super().stop(no_assert)


class SmtpServer:
    def __init__(self, directory: Path) -> None:
        self.certificate, key = self_signed(directory)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(self.certificate, key)
        self.port = free_port()
        self.mails: list[Mail] = []
        self.script: list[str] = []  # replies to DATA, in order; then 250
        self.refused: list[EmailMessage] = []  # mails answered from the script with a refusal
        self.lock = threading.Condition()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """EMS_SMTP_URL for this server, with its user and password."""
        return f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self._controller = _Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=self.tls,
            require_starttls=True,
            authenticator=_authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, seconds: float = 15) -> list[Mail]:
        deadline = time.monotonic() + seconds
        with self.lock:
            while len(self.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.mails)} mails arrived, not {count}")
                self.lock.wait(left)
            return list(self.mails)
