"""The ``ems serve`` process: uvicorn with EMS's connection limits, its start and its stop.

Starting: the store is opened before uvicorn starts listening, so a refusal (the data directory
is in use, the database is corrupt or read-only) is one line on stderr and exit status 2, not a
traceback followed by uvicorn's own account of a failed lifespan. The soft open-file limit is
raised to the hard one, because every connection costs a descriptor and the default soft limit
(often 1024) is far below what the connection cap allows.

Stopping, on SIGTERM: for ``drain_seconds`` the server keeps accepting and serving while
``/readyz`` answers 503, so that a load balancer notices and stops sending before the listener
closes (closing first would turn the balancer's next requests into refused connections). Then
long polls are released, the listener closes, in-flight requests finish (uploads that stall are
cut off after a second rather than holding the stop for the whole graceful timeout) and the
store closes. SIGINT (Ctrl-C) and a second SIGTERM skip the drain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Final, NamedTuple

import uvicorn

from ems.config import Settings
from ems.server.app import EmsApp
from ems.server.connections import ConnectionLimits, guarded_protocol
from ems.storage.base import StoreUnusable
from ems.version import __version__

log = logging.getLogger("ems")


class Worker(NamedTuple):
    """One of the processes of ``ems serve --workers`` (see workers.py)."""

    slot: int
    sock: socket.socket
    parent_watch: int


# descriptors kept for everything that is not a client connection: the database, webhook
# pushes, the PostgreSQL pool (at most half of a small limit)
RESERVED_FILES: Final = 1024


def run(
    app: EmsApp,
    settings: Settings,
    log_config: dict[str, object],
    where: str,
    worker: Worker | None = None,
) -> int:
    """Serve ``app`` (whose data is in ``where``) until stopped; the exit status.

    ``worker``: this process is one of ``ems serve --workers`` (workers.py), serving the socket
    its parent bound, and stopping when that parent is gone."""
    files = raise_open_file_limit()
    limits = connection_limits(settings, files)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=guarded_protocol(limits, app.connections, app.is_trusted_proxy),
        ws="none",
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
    shown = where if worker is None else f"{where} (worker {worker.slot} of {settings.workers})"
    server = _Server(config, app, settings.drain_seconds, lambda: announce(settings, app, shown))
    server.parent_watch = None if worker is None else worker.parent_watch
    try:
        server.run(sockets=None if worker is None else [worker.sock])
    except Exception:
        if server.started:
            raise
        log.exception("the server could not start")  # such as a TLS key that does not load
        return 1
    if server.refused is not None:
        print(f"ems: {server.refused}", file=sys.stderr)
        return 2
    return 0 if server.started else 1


def announce(settings: Settings, app: EmsApp, where: str) -> None:
    """The start line, and a warning when the server is reachable with ids as the only key."""
    scheme = "https" if settings.tls_cert else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info(
        "EMS %s serving %s://%s:%d with data in %s", __version__, scheme, host, settings.port, where
    )
    if not _loopback(settings.host) and not app.has_api_keys and not settings.allow_cidrs:
        log.warning(
            "listening on %s without API keys (EMS_API_KEYS) or an allowlist (--allow-cidr): "
            "anyone who reaches this port can create queues and topics, and queue and topic "
            "ids are the only credentials",
            host,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # "unlimited" is not a value the kernel accepts for open files (fs.nr_open caps it)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        log.debug("open-file limit raised from %d to %d", soft, target)
        return target
    return soft if soft != resource.RLIM_INFINITY else target


def connection_limits(settings: Settings, open_files: int) -> ConnectionLimits:
    """The configured limits, with the connection cap lowered to what the descriptors allow."""
    room = max(64, open_files - min(RESERVED_FILES, open_files // 2))
    cap = settings.max_connections
    if cap > room:
        log.warning(
            "--max-connections %d is more than the open-file limit (%d) leaves room for; "
            "serving at most %d connections (raise the limit with ulimit -n or LimitNOFILE=)",
            cap,
            open_files,
            room,
        )
        cap = room
    return ConnectionLimits(
        max_connections=cap,
        max_connections_per_client=settings.max_connections_per_client,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_header_bytes=settings.max_header_bytes,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, with the store opened first and a drain period on SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        app: EmsApp,
        drain_seconds: float,
        announce: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self.app = app
        self._announce = announce
        self.drain_seconds = drain_seconds
        self.refused: StoreUnusable | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        # a worker's end of a pipe that closes when its supervising parent dies
        self.parent_watch: int | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self.app.startup()
        except StoreUnusable as error:
            self.refused = error
            await self.app.shutdown()
            return
        self._announce()
        if self.parent_watch is not None:
            self._loop.add_reader(self.parent_watch, self._orphaned)
        await super().serve(sockets)

    def _orphaned(self) -> None:
        assert self._loop is not None
        assert self.parent_watch is not None
        self._loop.remove_reader(self.parent_watch)
        log.warning("the supervising ems serve process is gone; this worker stops")
        self.handle_exit(signal.SIGINT, None)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # this runs in a signal handler: hand the work to the loop rather than touch futures
        loop = self._loop
        if loop is None or loop.is_closed():
            super().handle_exit(sig, frame)
            return
        first = not self._draining and not self.should_exit
        if first and sig == signal.SIGTERM and self.drain_seconds > 0 and self.started:
            self._draining = True
            loop.call_soon_threadsafe(self._drain)
            return
        loop.call_soon_threadsafe(self.app.begin_shutdown)
        super().handle_exit(sig, frame)

    def _drain(self) -> None:
        self.app.begin_drain()
        log.info(
            "SIGTERM: draining for %g s (/readyz answers 503, requests are still served), then "
            "stopping; send SIGTERM again to stop at once",
            self.drain_seconds,
        )
        assert self._loop is not None
        self._loop.call_later(self.drain_seconds, self._stop_after_drain)

    def _stop_after_drain(self) -> None:
        if not self.should_exit:
            self.app.begin_shutdown()
            super().handle_exit(signal.SIGTERM, None)
