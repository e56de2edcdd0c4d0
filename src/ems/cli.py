"""The ``ems`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields
from typing import Final

from ems import DISTRIBUTION, __version__, logs, serving
from ems.bench import cli as bench_cli
from ems.client import cli as client_cli
from ems.config import Settings, SettingsError
from ems.server.access import ApiKeysError
from ems.server.app import EmsApp
from ems.storage.base import Store, StoreUnusable
from ems.storage.cipher import BodyCipher, EncryptionKeyError, parse_keys
from ems.storage.sqlite import SqliteStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ems", description="EMS, the Easy Message Service: durable queues over plain HTTP."
    )
    parser.add_argument("--version", action="version", version=f"ems {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the EMS server. Every option can also be set by its EMS_* variable.",
    )
    serve.add_argument("--host", help="address to bind (EMS_HOST; default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (EMS_PORT; default 8080)")
    serve.add_argument(
        "--data-dir", help="where the SQLite database lives (EMS_DATA_DIR; default ./ems-data)"
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="keep data in PostgreSQL (postgresql://host/db) instead of SQLite; nodes on one "
        "database serve the same queues (EMS_DATABASE_URL; put passwords in PGPASSWORD or "
        "~/.pgpass, not here: other users can see flags)",
    )
    serve.add_argument(
        "--database-schema", help="PostgreSQL schema for EMS's tables (EMS_DATABASE_SCHEMA; ems)"
    )
    serve.add_argument(
        "--database-pool-size",
        metavar="N",
        help="PostgreSQL connections per node (EMS_DATABASE_POOL_SIZE; default 10)",
    )
    serve.add_argument(
        "--database-timeout",
        metavar="SECONDS",
        help="how long a request waits on PostgreSQL before it is answered 503 "
        "(EMS_DATABASE_TIMEOUT; default 5)",
    )
    serve.add_argument(
        "--readiness-ignores-storage",
        action="store_true",
        default=None,
        help="/readyz answers 200 even while the database cannot be written: it then says only "
        "that the process serves (EMS_READINESS_IGNORES_STORAGE=1)",
    )
    serve.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL", "OFF", "full", "normal", "off"],
        help="SQLite durability (EMS_SQLITE_SYNCHRONOUS; default FULL: every 2xx is fsync'd)",
    )
    serve.add_argument(
        "--webhook-allow-private",
        action="store_true",
        default=None,
        help="let webhooks reach loopback and private addresses (EMS_WEBHOOK_ALLOW_PRIVATE=1); "
        "for trusted networks and local testing",
    )
    serve.add_argument(
        "--webhook-allow-net",
        dest="webhook_allow_nets",
        action="append",
        metavar="CIDR",
        help="let webhooks reach this network even if private; repeatable "
        "(EMS_WEBHOOK_ALLOW_NETS, comma-separated)",
    )
    serve.add_argument(
        "--no-playground",
        dest="playground",
        action="store_false",
        default=None,
        help="do not serve the playground at / and the API reference at /ems/docs "
        "(EMS_PLAYGROUND=0); /ems/openapi.json stays",
    )
    serve.add_argument(
        "--webhook-skip-confirmation",
        action="store_true",
        default=None,
        help="webhook subscriptions start confirmed (EMS_WEBHOOK_SKIP_CONFIRMATION=1); "
        "trusted networks only",
    )
    serve.add_argument(
        "--public-url",
        help="the URL clients use to reach this server, for confirmation links (EMS_PUBLIC_URL)",
    )
    add_email_flags(serve)
    serve.add_argument(
        "--allow-cidr",
        dest="allow_cidrs",
        action="append",
        metavar="CIDR",
        help="accept clients from this network only; repeatable (EMS_ALLOW_CIDRS, "
        "comma-separated). Default: everyone the bind address reaches",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        action="append",
        metavar="CIDR",
        help="trust X-Forwarded-For from these proxies; repeatable (EMS_FORWARDED_ALLOW_IPS)",
    )
    serve.add_argument(
        "--rate-limit",
        metavar="N",
        help="requests per second per client address, 0 for none (EMS_RATE_LIMIT; default 0)",
    )
    serve.add_argument("--rate-burst", metavar="N", help="burst allowed (EMS_RATE_BURST; 100)")
    serve.add_argument(
        "--queue-max-messages",
        metavar="N",
        help="messages one queue may hold, by default and at most (EMS_QUEUE_MAX_MESSAGES)",
    )
    serve.add_argument(
        "--queue-max-bytes",
        metavar="N",
        help="bytes one queue may hold, by default and at most (EMS_QUEUE_MAX_BYTES)",
    )
    serve.add_argument(
        "--id-prefix",
        metavar="PREFIX",
        help="start every new id with PREFIX_, to route shards by id (EMS_ID_PREFIX)",
    )
    serve.add_argument(
        "--webhook-max-response-bytes",
        metavar="N",
        help="read at most N bytes of a webhook endpoint's answer; a longer header section "
        "fails the attempt (EMS_WEBHOOK_MAX_RESPONSE_BYTES; default 65536)",
    )
    add_limit_flags(serve)
    serve.add_argument(
        "--drain-seconds",
        metavar="S",
        help="on SIGTERM, keep serving this long with /readyz answering 503 before stopping "
        "(EMS_DRAIN_SECONDS; default 5)",
    )
    serve.add_argument(
        "--disk-reserve-bytes",
        metavar="N",
        help="disk space kept beside the SQLite file and given up when the disk fills, so "
        "consumers can still drain; 0 for none (EMS_DISK_RESERVE_BYTES; default 16777216)",
    )
    serve.add_argument(
        "--no-quick-check",
        dest="quick_check",
        action="store_false",
        default=None,
        help="do not check the SQLite file's pages at start (EMS_QUICK_CHECK=0)",
    )
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (EMS_TLS_CERT)")
    serve.add_argument("--tls-key", help="... and this private key (EMS_TLS_KEY)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log each request (route templates only: never an id) (EMS_ACCESS_LOG=1)",
    )
    serve.add_argument(
        "--metrics-labelled-queues",
        metavar="N",
        help="/metrics: series per queue for up to N labelled queues, at most 1000 "
        "(EMS_METRICS_LABELLED_QUEUES; default 0: none)",
    )
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="(EMS_LOG_FORMAT; default text)"
    )
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="(EMS_LOG_LEVEL; default info)",
    )
    client_cli.add_commands(commands)
    bench_cli.add_command(commands)
    return parser


# options whose value may begin with "-": a Fernet key is URL-safe base64, and one in 64 made
# elsewhere does. argparse takes such a value for an option unless it is joined to its name.
_DASHED_VALUES: Final = frozenset({"--key"})


def _joined(argv: Sequence[str]) -> list[str]:
    """``--key VALUE`` as ``--key=VALUE``, so that a VALUE starting with "-" stays a value."""
    joined: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in _DASHED_VALUES:
            value = next(args, None)
            joined.append(arg if value is None else f"{arg}={value}")
        elif arg == "--":
            joined.append(arg)
            joined.extend(args)
        else:
            joined.append(arg)
    return joined


def add_email_flags(serve: argparse.ArgumentParser) -> None:
    """Email subscriptions (docs/deploy.md, "Email")."""
    serve.add_argument(
        "--smtp-url",
        metavar="URL",
        help="send email subscriptions through this server: smtp://host:587 (STARTTLS) or "
        "smtps://host:465 (EMS_SMTP_URL; put user:password in the variable, not here: other "
        "users can see flags)",
    )
    serve.add_argument(
        "--smtp-from", metavar="ADDRESS", help="the From address of every mail (EMS_SMTP_FROM)"
    )
    serve.add_argument(
        "--smtp-ca-file",
        metavar="PEM",
        help="trust this CA for the SMTP server's certificate, besides the system's "
        "(EMS_SMTP_CA_FILE)",
    )
    serve.add_argument(
        "--smtp-allow-private",
        action="store_true",
        default=None,
        help="let the SMTP server be on a loopback or private address, such as a local relay "
        "(EMS_SMTP_ALLOW_PRIVATE=1)",
    )
    serve.add_argument(
        "--email-rate-limit",
        metavar="N",
        help="mails per minute to one address at most; more wait (EMS_EMAIL_RATE_LIMIT; "
        "default 10)",
    )


def add_limit_flags(serve: argparse.ArgumentParser) -> None:
    """What one client may make the server hold (docs/security.md, "Limits")."""
    serve.add_argument(
        "--max-connections",
        metavar="N",
        help="open client connections in all; past it, 503 (EMS_MAX_CONNECTIONS; default "
        "16384, lowered to what the open-file limit allows)",
    )
    serve.add_argument(
        "--max-connections-per-client",
        metavar="N",
        help="open connections from one client address, 0 for no cap; trusted proxies are "
        "exempt (EMS_MAX_CONNECTIONS_PER_CLIENT; default 1024)",
    )
    serve.add_argument(
        "--header-timeout",
        metavar="S",
        help="seconds a client has to send a request's headers (EMS_HEADER_TIMEOUT; default 10)",
    )
    serve.add_argument(
        "--body-timeout",
        metavar="S",
        help="seconds a request or response body may make no progress before the connection "
        "is closed (EMS_BODY_TIMEOUT; default 30)",
    )
    serve.add_argument(
        "--max-header-bytes",
        metavar="N",
        help="bytes of a request line and headers; past it, 431 (EMS_MAX_HEADER_BYTES; "
        "default 65536)",
    )
    serve.add_argument(
        "--max-response-bytes",
        metavar="N",
        help="bytes of JSON in one peek answer before it stops and returns a next cursor "
        "(EMS_MAX_RESPONSE_BYTES; default 16777216)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_joined(sys.argv[1:] if argv is None else argv))
    if args.command in client_cli.CLIENT_COMMANDS:
        return client_cli.run(args)
    if args.command == "bench":
        return bench_cli.run(args)
    if args.command == "serve":
        try:
            # each serve flag's dest is the name of its setting; flags not given are None
            flags = {f.name: getattr(args, f.name, None) for f in fields(Settings)}
            settings = Settings.from_env(flags=flags)
        except (SettingsError, ValueError) as error:
            print(f"ems: {error}", file=sys.stderr)
            return 2
        return serve(settings)
    return 2  # pragma: no cover - argparse requires a command


def serve(settings: Settings) -> int:
    log_config = logs.configure(settings.log_level, settings.log_format)
    try:
        cipher = (
            BodyCipher(parse_keys(settings.encryption_key)) if settings.encryption_key else None
        )
    except EncryptionKeyError as error:
        print(f"ems: EMS_ENCRYPTION_KEY: {error}", file=sys.stderr)
        return 2
    try:
        store = open_store(settings, cipher)
        app = EmsApp(store, settings)
    except (StoreUnusable, ApiKeysError) as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    where = (
        f"{settings.database_shown} (schema {settings.database_schema})"
        if settings.database_url
        else str(settings.data_dir.resolve())
    )
    return serving.run(app, settings, log_config, where)


def open_store(settings: Settings, cipher: BodyCipher | None) -> Store:
    """The store the settings name: PostgreSQL given a database URL, else the SQLite file."""
    if settings.database_url is None:
        return SqliteStore(
            settings.sqlite_path,
            synchronous=settings.sqlite_synchronous,
            quick_check=settings.quick_check,
            disk_reserve=settings.disk_reserve_bytes,
            limits=settings.storage_limits,
            cipher=cipher,
        )
    try:
        from ems.storage.postgres import PostgresStore  # noqa: PLC0415 - only when used
    except ModuleNotFoundError as error:
        if error.name != "asyncpg":
            raise
        raise StoreUnusable(
            f"PostgreSQL needs the asyncpg driver: pip install '{DISTRIBUTION}[postgres]'"
        ) from None
    return PostgresStore(
        settings.database_url,
        schema=settings.database_schema,
        pool_size=settings.database_pool_size,
        poll_interval=settings.database_poll_interval,
        timeout=settings.database_timeout,
        limits=settings.storage_limits,
        cipher=cipher,
    )
