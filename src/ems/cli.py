"""The ``ems`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from ems import __version__
from ems.config import Settings, SettingsError
from ems.server.app import EmsApp
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
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="(EMS_LOG_LEVEL; default info)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        try:
            settings = Settings.from_env().with_values(
                {
                    "host": args.host,
                    "port": args.port,
                    "data_dir": args.data_dir,
                    "sqlite_synchronous": args.sqlite_synchronous,
                    "log_level": args.log_level,
                    "webhook_allow_private": args.webhook_allow_private,
                    "webhook_allow_nets": args.webhook_allow_net,
                    "webhook_skip_confirmation": args.webhook_skip_confirmation,
                    "public_url": args.public_url,
                }
            )
        except SettingsError as error:
            print(f"ems: {error}", file=sys.stderr)
            return 2
        return serve(settings)
    return 2  # pragma: no cover - argparse requires a command


def serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    store = SqliteStore(settings.sqlite_path, synchronous=settings.sqlite_synchronous)
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
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        server_header=False,
        # X-Forwarded-For is trusted only where the operator says so, not by default
        proxy_headers=False,
    )
    server = _Server(config, app)
    log.info(
        "EMS %s serving http://%s:%d with data in %s",
        __version__,
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
    )
    server.run()
    return 0 if server.started else 1


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
