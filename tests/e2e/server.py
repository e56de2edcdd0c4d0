"""Run a real ``ems serve`` process for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmsServer:
    """One ``ems serve`` process on a data dir; ``start`` again after a stop to restart it."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        scheme: str = "http",
        verify: ssl.SSLContext | bool = True,
        database: tuple[str, str] | None = None,
    ) -> None:
        """``database``: (PostgreSQL URL, schema) to serve from instead of SQLite."""
        self.data_dir = data_dir
        self.port = port or free_port()
        # free_port() only finds a port that was free: under xdist another worker's server can
        # take it before ours binds. Such a port may be swapped for another on the first start,
        # as long as nobody has read the url yet (a test may have handed it to the server).
        self._may_move_port = port is None
        # tests stop servers with SIGTERM: skip the drain a load balancer needs, and the disk
        # space reserve (tests/hostile tests both)
        self.env = {"EMS_DRAIN_SECONDS": "0", "EMS_DISK_RESERVE_BYTES": "0", **(env or {})}
        if database is not None:
            self.env |= {"EMS_DATABASE_URL": database[0], "EMS_DATABASE_SCHEMA": database[1]}
        self.scheme = scheme
        self.verify = verify
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"ems-{self.port}.log"

    @property
    def url(self) -> str:
        self._may_move_port = False
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, *args: str, use_flags: bool = True) -> EmsServer:
        for _ in range(3):
            command = [sys.executable, "-m", "ems", "serve", *args]
            if use_flags:
                command += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
            env = {**os.environ, **self.env}
            self.log = self.log_path.open("ab")
            self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
            try:
                self.wait_healthy()
            except AssertionError:
                taken = "address already in use" in self.output()
                if not (taken and use_flags and self._may_move_port):
                    raise
                self.port = free_port()
                self.log_path = self.data_dir.parent / f"ems-{self.port}.log"
                continue
            self._may_move_port = False
            return self
        raise AssertionError(f"ems serve found no free port:\n{self.output()}")

    def wait_healthy(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        # one client for the whole wait: httpx.get makes a client, and its TLS context, per
        # call (some 25 ms of CPU each), which at 20 polls a second slowed the very start
        # it waited for
        with httpx.Client(timeout=1, verify=self.verify) as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    self.log.close()
                    raise AssertionError(
                        f"ems serve exited early with {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    if (
                        http.get(f"{self.scheme}://127.0.0.1:{self.port}/healthz").status_code
                        == 200
                    ):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"ems serve did not become healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self.log.close()
        return code

    def worker_pids(self) -> list[int]:
        """The worker processes of ``--workers N``: this server's children (Linux's /proc)."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(child) for child in children.read_text().split()] if children.exists() else []

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.wait() == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.wait()


@contextlib.contextmanager
def running(
    data_dir: Path, *args: str, database: tuple[str, str] | None = None
) -> Iterator[EmsServer]:
    """A started server (``ems serve`` with ``args``), stopped when the block ends."""
    server = EmsServer(data_dir, database=database)
    server.start(*args)
    try:
        yield server
    finally:
        server.stop()
