"""PostgreSQL for the tests: a real server, never a skip.

Where it comes from, in order: ``EMS_TEST_POSTGRES_URL``; the server on 127.0.0.1:5432 (as the
``postgres`` role, trust auth, as on the development machine); else a throwaway cluster made with
``initdb`` and ``pg_ctl`` in a temporary directory. Each test session works in a database of its
own, dropped at exit, and each store in a schema of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tests.e2e.server import free_port

T = TypeVar("T")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        # the real directory: a link to initdb alone would leave psql and pg_basebackup out
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError(
        "the PostgreSQL tests need a server: set EMS_TEST_POSTGRES_URL, run one on "
        "127.0.0.1:5432, or install PostgreSQL's binaries (apt-get install postgresql); "
        "scripts/test does the last for you"
    )


class Cluster:
    """A throwaway PostgreSQL cluster: ``initdb``, ``pg_ctl start``, and gone at ``destroy``.

    :meth:`standby` makes a streaming replica of a running cluster (``pg_basebackup -R``), for
    failover tests; :meth:`crash`, :meth:`freeze` and :meth:`thaw` act on every process of a
    cluster at once, as a power cut or a hung machine would.
    """

    def __init__(self, *, initdb: bool = True) -> None:
        self.bin = _binaries()
        self.directory = Path(tempfile.mkdtemp(prefix="ems-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        # initdb and postgres refuse to run as root: use the postgres account when we are root
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.directory, "postgres")
        if initdb:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def sql(self, statement: str) -> str:
        """Run one statement with psql over the cluster's socket; its output, unaligned."""
        done = subprocess.run(
            [*self._as, str(self.bin / "psql"), "-h", str(self.directory), "-p", str(self.port),
             "-U", "postgres", "-d", "postgres", "-XAtqc", statement],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout.strip()

    def standby(self) -> Cluster:
        """A new cluster streaming from this running one (not started yet)."""
        replica = Cluster(initdb=False)
        replica._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                     "-D", str(replica.data), "-R", "-X", "stream", "--no-sync")  # fmt: skip
        return replica

    def promote(self) -> None:
        self._run("pg_ctl", "promote", "-w", "-t", "60", "-D", str(self.data))

    def pids(self) -> list[int]:
        """The postmaster's process id and its children's (backends, WAL sender, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # the parent id is the 2nd field after the parenthesised command name
                if int(stat.read_text().rpartition(")")[2].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def crash(self) -> None:
        """Kill every process of the cluster at once (SIGKILL): a crash, as far as clients see."""
        self._signal(signal.SIGKILL)

    def freeze(self) -> None:
        """Stop every process of the cluster (SIGSTOP): connections stay open, nothing answers,
        as with a hung machine. Always :meth:`thaw` or :meth:`crash` it afterwards."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def start(self) -> Cluster:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-o", options,
                  "-l", str(self.directory / "log"))  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", mode)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.crash()  # a frozen cluster would not hear pg_ctl stop
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


async def _reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(make())).result()


@cache
def server_url() -> str:
    """A URL of a server where the tests may create databases."""
    configured = os.environ.get("EMS_TEST_POSTGRES_URL")
    if configured:
        return configured
    if _run(lambda: _reachable(DEFAULT_SERVER)):
        return DEFAULT_SERVER
    cluster = Cluster().start()
    atexit.register(cluster.destroy)
    return cluster.url


# A new connection to the machine's PostgreSQL, with the suite's workers, Chromium and servers
# beside it on two cores, has taken longer than the store's 2 s per-host default (an unrelated
# test then saw 503 storage-unavailable). Tests that are not about timeouts give it 10 s; the
# URL's connect_timeout is the documented way to (tests/storage/test_database_url.py).
PATIENT_CONNECT = "connect_timeout=10"


def patient(url: str) -> str:
    """``url`` with a per-host connect timeout for a loaded machine."""
    return f"{url}{'&' if '?' in url else '?'}{PATIENT_CONNECT}"


@cache
def database_url() -> str:
    """This session's own database, dropped at exit."""
    server = server_url()
    name = f"ems_test_{os.getpid()}_{int(time.time())}"

    async def create() -> None:
        conn = await asyncpg.connect(server, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(server, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(create)
    # no thread pool at exit (it refuses new work once the interpreter is shutting down), and
    # no event loop is running then either
    atexit.register(_quietly, lambda: asyncio.run(drop()))
    return _with_database(server, name)


def _quietly(action: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):
        action()


def schema_for(directory: Path) -> str:
    """A schema name of its own for each test directory (a store reopened on the same directory
    finds the same data)."""
    return "t_" + hashlib.sha256(str(directory).encode()).hexdigest()[:20]
