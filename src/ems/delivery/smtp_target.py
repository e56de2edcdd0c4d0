"""The SMTP server EMS sends email through, as the operator names it in ``EMS_SMTP_URL``.

``smtp://[user:password@]host[:port]`` submits with STARTTLS (port 587 by default) and refuses
a server that does not offer it; ``smtps://`` speaks TLS from the first byte (port 465). There
is no plain-text mode: the password and every subscriber's address would cross the network in
the clear. Certificates are always verified (``EMS_SMTP_CA_FILE`` adds a private CA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool  # smtps://; else STARTTLS
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """Raise ValueError with a reason that never quotes the URL (it may hold a password)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError("EMS_SMTP_URL is not a valid URL") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(
                "EMS_SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS on connect)"
            )
        if not parts.hostname:
            raise ValueError("EMS_SMTP_URL must name a host: smtp://user:password@host:587")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("EMS_SMTP_URL takes no path, query or fragment")
        return cls(
            host=parts.hostname,
            port=port or DEFAULT_PORTS[parts.scheme],
            implicit_tls=parts.scheme == "smtps",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def shown(self) -> str:
        """For logs: scheme, host and port, never the user name or password."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"
