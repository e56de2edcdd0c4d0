"""The ``ems`` command."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import fields
from typing import Final

from ems import logs, serve_flags, serving, workers
from ems.bench import cli as bench_cli
from ems.client import cli as client_cli
from ems.config import Settings, SettingsError
from ems.server.access import ApiKeysError
from ems.server.app import EmsApp
from ems.storage.base import Store, StoreUnusable
from ems.storage.cipher import BodyCipher, EncryptionKeyError, parse_keys
from ems.storage.sqlite import SqliteStore
from ems.storage.sqlite.sharing import Sharing, lock_and_prepare
from ems.version import DISTRIBUTION, __version__

log = logging.getLogger("ems")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ems", description="EMS, the Easy Message Service: durable queues over plain HTTP."
    )
    parser.add_argument("--version", action="version", version=f"ems {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve_flags.add_serve_command(commands)
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
    where = (
        f"{settings.database_shown} (schema {settings.database_schema})"
        if settings.database_url
        else str(settings.data_dir.resolve())
    )
    if settings.workers > 1:
        return serve_workers(settings, cipher, log_config, where)
    try:
        store = open_store(settings, cipher)
        app = EmsApp(store, settings)
    except (StoreUnusable, ApiKeysError) as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    return serving.run(app, settings, log_config, where)


def serve_workers(
    settings: Settings, cipher: BodyCipher | None, log_config: dict[str, object], where: str
) -> int:
    """``--workers N``: the parent's part (workers.py); each worker serves as one server does."""
    try:
        lock = (
            None
            if settings.database_url
            else lock_and_prepare(settings.sqlite_path, settings.quick_check)
        )
    except (StoreUnusable, ApiKeysError) as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    try:  # apart from the lock's: an OSError there would leave ``lock`` unbound here
        sockets = workers.listen(settings.host, settings.port, settings.workers)
    except OSError as error:
        if lock is not None:
            lock.close()
        reason = (error.strerror or str(error)).lower()
        print(f"ems: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        return 1

    def worker(slot: int, sock: socket.socket, parent_watch: int) -> int:
        sharing = None
        if settings.database_url is None:
            sharing = Sharing(slot, settings.workers, supervisor=os.getppid())
        try:
            app = EmsApp(open_store(settings, cipher, sharing), settings)
        except (StoreUnusable, ApiKeysError) as error:
            print(f"ems: {error}", file=sys.stderr)
            return 2
        app.metrics.worker = str(slot)
        running = serving.Worker(slot, sock, parent_watch)
        return serving.run(app, settings, log_config, where, running)

    log.info("starting %d workers on %s:%d", settings.workers, settings.host, settings.port)
    try:
        return workers.Supervisor(sockets, worker).run()
    finally:
        for sock in sockets:
            sock.close()
        if lock is not None:
            lock.close()


def open_store(
    settings: Settings, cipher: BodyCipher | None, sharing: Sharing | None = None
) -> Store:
    """The store the settings name: PostgreSQL given a database URL, else the SQLite file."""
    if settings.database_url is None:
        return SqliteStore(
            settings.sqlite_path,
            synchronous=settings.sqlite_synchronous,
            quick_check=settings.quick_check,
            disk_reserve=settings.disk_reserve_bytes,
            limits=settings.storage_limits,
            cipher=cipher,
            sharing=sharing,
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
