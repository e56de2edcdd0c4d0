"""Server settings: defaults, overridden by ``EMS_*`` environment variables, overridden by flags.

Secrets (the admin token, API keys, the at-rest encryption key) are read from the environment or
files only, never from flags (which other users of the machine can see), and never appear in a
``repr`` of the settings.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from ems.core.email_address import check_email_address
from ems.core.errors import InvalidEmailAddress
from ems.core.models import StorageLimits
from ems.delivery.smtp_target import SmtpTarget
from ems.storage.database_url import shown, target

Synchronous = Literal["FULL", "NORMAL", "OFF"]
LogFormat = Literal["text", "json"]
PREFIX = "EMS_"

_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}  # fmt: skip
_SECRETS = frozenset(
    {"admin_token", "api_keys", "encryption_key", "database_url", "sqs_credentials", "smtp_url"}
)
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_ID_PREFIX = re.compile(r"[A-Za-z0-9]{1,16}")
_ORIGIN = re.compile(r"https?://[^/?#\s]+")
_NETWORK_LISTS = frozenset({"webhook_allow_nets", "allow_cidrs", "forwarded_allow_ips"})


class SettingsError(ValueError):
    """A setting has a value EMS cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("ems-data")
    # FULL: every acknowledged write is fsync'd. NORMAL survives a crash of EMS but may lose the
    # last transactions on power loss. OFF is for throwaway benchmarks only.
    sqlite_synchronous: Synchronous = "FULL"
    log_level: str = "info"
    log_format: LogFormat = "text"
    # one line per request: client, method, route template (never an id), status, duration
    access_log: bool = False
    # /metrics: per-queue series for up to this many labelled queues (0: none, the default);
    # labels are chosen by queue owners, so the series they make are opt-in and bounded
    metrics_labelled_queues: int = 0
    # seconds to let in-flight requests finish after SIGTERM before closing connections
    shutdown_timeout: int = 30
    # after SIGTERM, seconds to keep serving while /readyz answers 503, so that balancers stop
    # sending here before the listener closes (SIGINT and a second SIGTERM skip it)
    drain_seconds: float = 5.0
    # processes serving the one listening socket (ems/workers.py); "auto": one per core
    workers: int = 1
    # check the SQLite file's pages (PRAGMA quick_check) before serving
    quick_check: bool = True
    # disk space kept beside the SQLite file and given up when the disk fills, so that
    # consumers can still receive and delete (storage/sqlite/reserve.py); 0 keeps none
    disk_reserve_bytes: int = 16 * 1024 * 1024

    # what one client connection may hold (server/connections.py): open connections in all
    # and per client address (0: no per-address cap), seconds to send a request's headers,
    # seconds a request or response body may make no progress, bytes of one header section
    max_connections: int = 16384
    max_connections_per_client: int = 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    # bytes of JSON one peek answer carries before it stops and hands out a `next` cursor
    max_response_bytes: int = 16 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None

    # webhooks reach only public addresses unless these say otherwise (see delivery/ssrf.py)
    webhook_allow_private: bool = False
    webhook_allow_nets: tuple[str, ...] = ()
    # trusted networks only: webhook subscriptions start confirmed
    webhook_skip_confirmation: bool = False
    # the most EMS reads of an endpoint's answer: its header section must fit (or the attempt
    # fails and is retried), and the body is read up to this many bytes
    webhook_max_response_bytes: int = 64 * 1024
    # the URL clients use to reach this server (for confirmation links); default: as requested
    public_url: str | None = None
    # the playground at / and the API reference at /ems/docs (the OpenAPI document stays)
    playground: bool = True
    # web pages on these origins may call the API (server/cors.py); "*" for any; none: off
    cors_origins: tuple[str, ...] = ()
    # live streams (server/streams.py) open from one client address, and on one queue or
    # topic (0: no cap), and the seconds between heartbeats on a quiet stream
    max_streams_per_client: int = 100
    max_streams_per_queue: int = 1000
    stream_heartbeat_seconds: float = 15.0

    # email subscriptions (delivery/email.py): the SMTP server (smtp:// STARTTLS or smtps://,
    # optional user:password; a secret), the From address, a private CA for its certificate,
    # whether it may be on a private or loopback address (the SSRF guard, as for webhooks), and
    # the most mails per minute to one address. Without the URL and From, email is off.
    smtp_url: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_ca_file: Path | None = None
    smtp_allow_private: bool = False
    email_rate_limit: int = 10

    # who may connect (empty: everyone the bind address reaches), and which proxies to believe
    allow_cidrs: tuple[str, ...] = ()
    forwarded_allow_ips: tuple[str, ...] = ()
    # requests per second per client address (0: no limit), and the burst allowed
    rate_limit: float = 0.0
    rate_burst: int = 100
    # PostgreSQL instead of the embedded SQLite file: many nodes may share one database.
    # A password in the URL is a secret (prefer PGPASSWORD or ~/.pgpass); it is never shown.
    database_url: str | None = field(default=None, repr=False)
    # each EMS installation keeps its tables in a schema of its own
    database_schema: str = "ems"
    database_pool_size: int = 10
    # long polls re-check the database this often (seconds), in case a wakeup from another
    # node was lost
    database_poll_interval: float = 2.0
    # how long a request waits on PostgreSQL (seconds) before it is answered 503: a database that
    # hangs (frozen, powered off, cut off) must not hang EMS with it (docs/deploy.md)
    database_timeout: float = 5.0
    # /readyz says only whether the process serves and is not stopping, as it did before it
    # followed the store; by default it also answers 503 while the database cannot be written
    readiness_ignores_storage: bool = False
    # ids begin with this and "_", so a proxy can route them to their shard (docs/deploy.md)
    id_prefix: str = ""
    # what one queue may hold, by default and at most
    queue_max_messages: int = StorageLimits().max_messages
    queue_max_bytes: int = StorageLimits().max_bytes

    # secrets
    admin_token: str | None = field(default=None, repr=False)
    api_keys: str | None = field(default=None, repr=False)
    api_keys_file: Path | None = None
    encryption_key: str | None = field(default=None, repr=False)
    # the SQS API's access keys, "KEY_ID:SECRET,..." (docs/sqs.md); none: development mode on
    # loopback, else the SQS API is off
    sqs_credentials: str | None = field(default=None, repr=False)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ems.sqlite3"

    @property
    def database_shown(self) -> str | None:
        """Where the database is, for logs: hosts as written, no user name, no password."""
        if self.database_url is None:
            return None
        return shown(self.database_url)

    @property
    def email_enabled(self) -> bool:
        return self.smtp_url is not None and self.smtp_from is not None

    @property
    def storage_limits(self) -> StorageLimits:
        return StorageLimits(self.queue_max_messages, self.queue_max_bytes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
    ) -> Settings:
        """The environment's settings, overridden by ``flags`` (None: not given); checked
        together, so that a pair may come half from each (EMS_SMTP_URL and --smtp-from)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(PREFIX + setting.name.upper())
            if raw is not None and raw != "":
                values[setting.name] = raw
        values.update((name, value) for name, value in (flags or {}).items() if value is not None)
        return cls().with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> Settings:
        """A copy with ``values`` (strings or typed) converted and checked."""
        types = {f.name: str(f.type) for f in fields(self)}
        converted = {
            name: _convert(name, types[name], value)
            for name, value in values.items()
            if value is not None
        }
        settings = replace(self, **converted)
        if settings.database_url is not None:
            if not settings.database_url.startswith(("postgresql://", "postgres://")):
                raise SettingsError("EMS_DATABASE_URL must be a postgresql:// URL")
            try:
                target(settings.database_url)
            except ValueError as error:
                # the reason names the part, never quotes the URL (it may hold a password)
                raise SettingsError(f"EMS_DATABASE_URL: {error}") from None
        if not _SCHEMA.fullmatch(settings.database_schema):
            raise SettingsError(
                "EMS_DATABASE_SCHEMA: use lowercase letters, digits and _ (at most 48)"
            )
        if settings.database_pool_size < 2 or settings.database_poll_interval <= 0:
            raise SettingsError(
                "EMS_DATABASE_POOL_SIZE must be at least 2 and EMS_DATABASE_POLL_INTERVAL positive"
            )
        if not 0 < settings.database_timeout <= 3600:
            raise SettingsError("EMS_DATABASE_TIMEOUT: give seconds, more than 0 and at most 3600")
        if settings.id_prefix and not _ID_PREFIX.fullmatch(settings.id_prefix):
            raise SettingsError("EMS_ID_PREFIX: use 1 to 16 letters and digits, such as s1")
        try:
            parse_credentials(settings.sqs_credentials)
        except CredentialsError as error:
            raise SettingsError(str(error)) from None
        _check_email(settings)
        _check_bounds(settings)
        for origin in settings.cors_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin.rstrip("/")):
                raise SettingsError(
                    f"EMS_CORS_ORIGINS: {origin!r} is not an origin; give scheme://host[:port] "
                    "(such as https://app.example.com) or *"
                )
        if (settings.tls_cert is None) != (settings.tls_key is None):
            raise SettingsError(
                "TLS needs both EMS_TLS_CERT and EMS_TLS_KEY (--tls-cert, --tls-key)"
            )
        return settings


def _check_email(settings: Settings) -> None:
    if (settings.smtp_url is None) != (settings.smtp_from is None):
        raise SettingsError(
            "email needs both EMS_SMTP_URL and EMS_SMTP_FROM (--smtp-url, --smtp-from)"
        )
    if settings.smtp_url is not None and not settings.public_url:
        raise SettingsError(
            "email needs EMS_PUBLIC_URL (--public-url): every mail carries links back to this "
            "server (confirm, unsubscribe), and they must work from the reader's machine"
        )
    if settings.smtp_url is not None:
        try:
            SmtpTarget.parse(settings.smtp_url)
        except ValueError as error:
            raise SettingsError(str(error)) from None
    if settings.smtp_from is not None:
        try:
            check_email_address(settings.smtp_from)
        except InvalidEmailAddress as error:
            raise SettingsError(f"EMS_SMTP_FROM: {error.detail}") from None
    if settings.email_rate_limit < 1:
        raise SettingsError("EMS_EMAIL_RATE_LIMIT must be at least 1 (mails per minute)")


# the smallest values that still make sense, for settings that bound what clients may hold
_LOWEST: Mapping[str, float] = {
    "max_connections": 1,
    "header_timeout": 0.1,
    "body_timeout": 0.1,
    "max_header_bytes": 1024,
    "max_response_bytes": 64 * 1024,
    "webhook_max_response_bytes": 1024,
    "drain_seconds": 0,
    "workers": 1,
    "stream_heartbeat_seconds": 0.05,
}


# ... and the largest
_HIGHEST: Mapping[str, float] = {"metrics_labelled_queues": 1000, "workers": 256}


def _check_bounds(settings: Settings) -> None:
    for name, lowest in _LOWEST.items():
        if getattr(settings, name) < lowest:
            raise SettingsError(f"{PREFIX}{name.upper()} must be at least {lowest:g}")
    for name, highest in _HIGHEST.items():
        if not 0 <= getattr(settings, name) <= highest:
            raise SettingsError(f"{PREFIX}{name.upper()} must be from 0 to {highest:g}")


class CredentialsError(ValueError):
    """EMS_SQS_CREDENTIALS cannot be parsed; the message never shows a secret."""


def parse_credentials(text: str | None) -> dict[str, str]:
    """EMS_SQS_CREDENTIALS, ``KEY_ID:SECRET,...``: each access key's secret (docs/sqs.md)."""
    keys: dict[str, str] = {}
    for number, raw in enumerate((text or "").split(","), 1):
        item = raw.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise CredentialsError(f"EMS_SQS_CREDENTIALS: entry {number} is not KEY_ID:SECRET")
        if key_id.strip() in keys:
            raise CredentialsError(f"EMS_SQS_CREDENTIALS: key {key_id.strip()!r} is given twice")
        keys[key_id.strip()] = secret.strip()
    return keys


def _convert(name: str, kind: str, value: Any) -> Any:
    env = PREFIX + name.upper()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return _BOOLEANS[str(value).strip().lower()]
        if name == "workers" and str(value).strip().lower() == "auto":
            return cores()
        if kind == "int":
            number = int(value)
            if number < 0 or (name == "port" and number > 65535):
                raise ValueError
            return number
        if kind == "float":
            real = float(value)
            if not math.isfinite(real):
                raise ValueError
            return real
        if kind.startswith("Path"):
            return Path(value)
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else value
            result = tuple(str(i).strip() for i in items if str(i).strip())
            if name in _NETWORK_LISTS:
                for network in result:
                    ipaddress.ip_network(network, strict=False)
            return result
        if kind == "Synchronous":
            mode = str(value).upper()
            if mode not in ("FULL", "NORMAL", "OFF"):
                raise ValueError
            return cast(Synchronous, mode)
        if kind == "LogFormat":
            if value not in ("text", "json"):
                raise ValueError
            return cast(LogFormat, value)
    except (KeyError, ValueError):
        raise SettingsError(f"{env} has an unusable value: {_shown(name, value)}") from None
    return str(value)


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _shown(name: str, value: Any) -> str:
    return "(hidden)" if name in _SECRETS else repr(value)
