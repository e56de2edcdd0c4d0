"""Connections to the operator's SMTP server: checked, encrypted, authenticated and reused.

Why aiosmtplib: EMS sends from its event loop, next to thousands of other tasks, so the client
must be asyncio-native (the standard library's smtplib blocks, and its ``starttls()`` skips
certificate checks unless given a context); aiosmtplib is small, has no dependencies, verifies
certificates by default, speaks STARTTLS and implicit TLS, and takes a socket EMS connected
itself. That last point is what lets the SSRF guard apply: EMS resolves the SMTP host, refuses
it if any address is loopback, private, link-local or otherwise not public (unless the operator
allows it with ``--smtp-allow-private``), and connects to exactly the address it checked, so a
DNS answer that changes between check and connection cannot redirect the mail. The host comes
from the operator, not from clients; the guard is there so that a misconfigured or hijacked
name cannot make EMS talk SMTP to an internal service, and a relay on the same machine is one
flag away.

Connections are reused: a send takes an idle connection (or opens one, at most
``MAX_CONNECTIONS`` at a time), and a connection that sent successfully goes back to the idle
list. One that failed in any way is closed, so the next mail starts from a clean session; an
idle connection the server closed meanwhile is noticed on use and replaced once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from email.message import EmailMessage
from typing import Final

import aiosmtplib

from ems.delivery.smtp_target import SmtpTarget
from ems.delivery.ssrf import AddressPolicy, checked_addresses

MAX_CONNECTIONS: Final = 8
MAX_IDLE: Final = 4


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``ca_file`` (EMS_SMTP_CA_FILE) if given."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


class SmtpPool:
    def __init__(
        self,
        target: SmtpTarget,
        policy: AddressPolicy,
        tls: ssl.SSLContext,
        *,
        local_hostname: str | None = None,
    ) -> None:
        self.target = target
        self.policy = policy
        self.tls = tls
        self.local_hostname = local_hostname
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self.connections_opened = 0  # for tests and benchmarks: reuse is observable

    async def send(
        self, mail: EmailMessage, sender: str, recipient: str, *, seconds: float
    ) -> None:
        """Send one mail within ``seconds``; raise aiosmtplib's errors, OSError (ForbiddenHost,
        UnresolvableHost, TLS errors) or TimeoutError."""
        async with asyncio.timeout(seconds), self._slots:
            while self._idle:
                client = self._idle.pop()
                if not client.is_connected:
                    _discard(client)
                    continue
                try:
                    await self._send_on(client, mail, sender, recipient)
                    return
                except aiosmtplib.SMTPServerDisconnected:
                    break  # it closed the idle connection: open a new one, once
            client = await self._connect(seconds)
            await self._send_on(client, mail, sender, recipient)

    async def _send_on(
        self, client: aiosmtplib.SMTP, mail: EmailMessage, sender: str, recipient: str
    ) -> None:
        try:
            await client.send_message(mail, sender=sender, recipients=[recipient])
        except BaseException:
            _discard(client)
            raise
        if len(self._idle) < MAX_IDLE:
            self._idle.append(client)
        else:
            await _quit(client)

    async def _connect(self, seconds: float) -> aiosmtplib.SMTP:
        target = self.target
        addresses = await checked_addresses(target.host, target.port, self.policy)
        loop = asyncio.get_running_loop()
        last_error: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, target.port))
            except OSError as error:
                sock.close()
                last_error = error
                continue
            client = aiosmtplib.SMTP(
                hostname=target.host,  # what the certificate must name
                sock=sock,
                use_tls=target.implicit_tls,
                start_tls=not target.implicit_tls,  # required: no plain-text fallback
                tls_context=self.tls,
                local_hostname=self.local_hostname,
                timeout=seconds,
            )
            try:
                await client.connect()
                if target.username is not None:
                    await client.login(target.username, target.password or "")
            except BaseException:
                _discard(client)
                raise
            self.connections_opened += 1
            return client
        raise last_error or OSError(f"no address to connect to for {target.host}")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    """Say goodbye (politely, briefly), then close."""
    transport = client.transport
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        async with asyncio.timeout(2):
            await client.quit()
    _discard(client, transport)


def _discard(client: aiosmtplib.SMTP, transport: asyncio.BaseTransport | None = None) -> None:
    """Close a connection now. ``close()`` alone starts a TLS shutdown that may outlive the
    event loop (and leave the socket open); aborting the transport closes the socket at once.
    Nothing is lost: the connection is idle or already failed."""
    transport = transport or client.transport
    client.close()
    if isinstance(transport, asyncio.Transport):
        transport.abort()
