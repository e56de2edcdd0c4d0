"""``ems serve --workers N``: N processes serving one port, and their supervisor.

The parent binds the port, once per worker: N listening sockets in one SO_REUSEPORT group, which it
keeps open for as long as it runs; worker k serves socket k. Why not one socket shared by all: an
event loop accepts every connection waiting when it wakes, so whichever worker wakes first takes a
burst of new keep-alive connections and keeps them (measured with wrk's 64 connections on this
project's 2-core machine: one worker committed 24,339 writes, the other 2,189); SO_REUSEPORT has the
kernel spread connections evenly, by a hash of their addresses. Why the parent binds rather than
each worker: a socket outlives its worker, so the connections the kernel hands to a worker that has
died wait in that socket's backlog until its replacement accepts them, instead of being refused. A
plain bind first checks that the port is free, so a second, separate ``ems serve`` on the same port
is refused as it is today rather than joining the group. (Where the system has no SO_REUSEPORT, all
workers share one socket.)

Supervision: a worker that dies (``kill -9``, a crash) is started again in its slot, after a second
if it died within a second of its start. SIGTERM and SIGINT are passed on to every worker, which
stops as a single server does (serving.py: the drain, then in-flight requests finish); a second
SIGTERM skips the drain. When all have stopped the parent ends by the same signal, as a single
server does. A worker that cannot start (exit status 2: the store is unusable; 1: the server could
not start) stops them all, with its status. Workers run in process groups of their own, so that a
terminal's Ctrl-C reaches them once, through the parent; and each holds the read end of a pipe whose
write end only the parent has, so a parent killed outright leaves no orphans: the workers see the
pipe close and stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Final

log = logging.getLogger("ems")

# a worker's exit status: the store refused (2) or the server never started serving (1, as
# serving.run says: a TLS key that does not load, say); both stop them all with that status.
# A worker that fails after it started exits with FAILED and is started again.
REFUSED: Final = 2
NEVER_STARTED: Final = 1
FAILED: Final = 70  # EX_SOFTWARE
# a worker that dies sooner than this after its start waits this long before its restart
RESTART_DELAY: Final = 1.0
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
BACKLOG: Final = 2048  # uvicorn's default

# what a worker runs: (its slot, the listening socket, the parent-watch descriptor) -> status
StartWorker = Callable[[int, socket.socket, int], int]


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """The listening sockets of ``count`` workers (OSError if the port cannot be bound)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    group = hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"
    if port != 0 and group:
        _bind(family, kind, proto, address, reuse_port=False).close()  # the port is free
    first = _bind(family, kind, proto, address, reuse_port=group)
    if not group:
        return [first] * count
    sockets = [first]
    try:
        for _ in range(count - 1):  # port 0 becomes the port the first one got
            sockets.append(_bind(family, kind, proto, first.getsockname(), reuse_port=True))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind(family: int, kind: int, proto: int, address: Any, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, sockets: list[socket.socket], worker: StartWorker) -> None:
        self.count = len(sockets)
        self._sockets = sockets
        self._worker = worker
        self._children: dict[int, tuple[int, float]] = {}  # pid -> (slot, started)
        self._signals: list[int] = []
        self._failure: int | None = None  # the exit status of a worker that could not start
        # the workers hold the read end; only this process the write end (see the docstring)
        self._watch, self._alive = os.pipe()

    def run(self) -> int:
        """Start the workers, keep them running until stopped; the exit status."""
        previous = {sig: signal.signal(sig, self._stop) for sig in STOP_SIGNALS}
        try:
            for slot in range(self.count):
                self._spawn(slot)
            self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._alive)
            os.close(self._watch)
        if self._failure is not None:
            return self._failure
        log.info("all %d workers stopped", self.count)
        if self._signals:  # end as a single server does (see serving.py)
            signal.raise_signal(self._signals[-1])
        return 0

    def _supervise(self) -> None:
        while self._children:
            try:
                pid, status = os.wait()
            except ChildProcessError:  # pragma: no cover - every child is ours and known
                return
            slot, started = self._children.pop(pid, (None, 0.0))
            if slot is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if self._signals:
                continue  # stopping: this one has
            if code in (REFUSED, NEVER_STARTED):
                log.error("worker %d could not start (see above); stopping the others", slot)
                self._failure = code
                self._stop(signal.SIGINT, None)
                continue
            log.warning(
                "worker %d (pid %d) %s; starting another",
                slot,
                pid,
                f"was killed by signal {-code}" if code < 0 else f"exited with status {code}",
            )
            if time.monotonic() - started < RESTART_DELAY:
                time.sleep(RESTART_DELAY)
            if not self._signals:
                self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        # a stop signal arriving between fork and the child's own handlers must not run the
        # parent's handler in the child, nor miss the new child in the parent
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child(slot)  # never returns
            self._children[pid] = (slot, time.monotonic())
            log.info("worker %d started (pid %d)", slot, pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def _child(self, slot: int) -> None:
        code = FAILED
        try:
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            os.setpgid(0, 0)
            os.close(self._alive)
            mine = self._sockets[slot]
            for sock in self._sockets:
                if sock is not mine:
                    sock.close()  # the parent keeps them (see the docstring)
            code = self._worker(slot, mine, self._watch)
        except BaseException:
            log.exception("worker %d failed", slot)
        finally:
            with contextlib.suppress(Exception):
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
