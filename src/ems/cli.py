"""The ``ems`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Final

import uvicorn

from ems import DISTRIBUTION, __version__, logs
from ems.bench import cli as bench_cli
from ems.client import cli as client_cli
from ems.config import Settings, SettingsError
from ems.server.app import EmsApp
from ems.storage.base import Store, StoreUnusable
from ems.storage.cipher import BodyCipher, EncryptionKeyError, parse_keys
from ems.storage.sqlite import SqliteStore

log = logging.getLogger("ems")


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
    serve.add_argument(
        "--allow-cidr",
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
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (EMS_TLS_CERT)")
    serve.add_argument("--tls-key", help="... and this private key (EMS_TLS_KEY)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log each request (route templates only: never an id) (EMS_ACCESS_LOG=1)",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_joined(sys.argv[1:] if argv is None else argv))
    if args.command in client_cli.CLIENT_COMMANDS:
        return client_cli.run(args)
    if args.command == "bench":
        return bench_cli.run(args)
    if args.command == "serve":
        try:
            settings = Settings.from_env().with_values(
                {
                    "host": args.host,
                    "port": args.port,
                    "data_dir": args.data_dir,
                    "sqlite_synchronous": args.sqlite_synchronous,
                    "database_url": args.database_url,
                    "database_schema": args.database_schema,
                    "database_pool_size": args.database_pool_size,
                    "database_timeout": args.database_timeout,
                    "readiness_ignores_storage": args.readiness_ignores_storage,
                    "id_prefix": args.id_prefix,
                    "log_level": args.log_level,
                    "webhook_allow_private": args.webhook_allow_private,
                    "webhook_allow_nets": args.webhook_allow_net,
                    "webhook_skip_confirmation": args.webhook_skip_confirmation,
                    "playground": args.playground,
                    "public_url": args.public_url,
                    "allow_cidrs": args.allow_cidr,
                    "forwarded_allow_ips": args.forwarded_allow_ips,
                    "rate_limit": args.rate_limit,
                    "rate_burst": args.rate_burst,
                    "queue_max_messages": args.queue_max_messages,
                    "queue_max_bytes": args.queue_max_bytes,
                    "tls_cert": args.tls_cert,
                    "tls_key": args.tls_key,
                    "access_log": args.access_log,
                    "log_format": args.log_format,
                }
            )
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
    except StoreUnusable as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    app = EmsApp(store, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        lifespan="on",
        # uvicorn's access log would write capability ids: queue ids are in every URL
        access_log=False,
        log_config=log_config,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        server_header=False,
        # X-Forwarded-For is trusted only where the operator says so (see server/access.py)
        proxy_headers=False,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    scheme = "https" if settings.tls_cert else "http"
    where = (
        f"{settings.database_shown} (schema {settings.database_schema})"
        if settings.database_url
        else str(settings.data_dir.resolve())
    )
    log.info(
        "EMS %s serving %s://%s:%d with data in %s",
        __version__,
        scheme,
        settings.host,
        settings.port,
        where,
    )
    server = _Server(config, app)
    server.run()
    return 0 if server.started else 1


def open_store(settings: Settings, cipher: BodyCipher | None) -> Store:
    """The store the settings name: PostgreSQL given a database URL, else the SQLite file."""
    if settings.database_url is None:
        return SqliteStore(
            settings.sqlite_path,
            synchronous=settings.sqlite_synchronous,
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


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app when a stop begins so long polls end at once."""

    def __init__(self, config: uvicorn.Config, app: EmsApp) -> None:
        super().__init__(config)
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # this runs in a signal handler: hand the work to the loop rather than touch futures
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.app.begin_shutdown)
        super().handle_exit(sig, frame)
