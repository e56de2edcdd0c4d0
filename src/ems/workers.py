"""``ems serve --workers N``: N processes serving one listening socket, and their supervisor.

The parent binds the socket and forks the workers, which inherit it; the kernel hands each new
connection to one worker blocked in accept. Why the parent binds rather than each worker binding
its own with SO_REUSEPORT: with SO_REUSEPORT the kernel assigns connections to sockets by a hash
of the client's address when they arrive, so the connections waiting in a worker's backlog when it
dies are reset, and while a worker is being restarted its share of new connections has nowhere to
go; one shared socket keeps every waiting connection for the workers that live. It also makes
``--port 0`` and "address already in use" one bind, reported once.

Supervision: a worker that dies (``kill -9``, a crash) is started again in its slot, after a
second if it died within a second of its start. SIGTERM and SIGINT are passed on to every worker,
which stops as a single server does (serving.py: the drain, then in-flight requests finish);
a second SIGTERM skips the drain. When all have stopped the parent ends by the same signal, as a
single server does. A worker that refuses to start (exit status 2: the store is unusable) stops
them all, with status 2. Workers run in process groups of their own, so that a terminal's Ctrl-C
reaches them once, through the parent; and each holds the read end of a pipe whose write end only
the parent has, so a parent killed outright leaves no orphans: the workers see the pipe close
and stop.
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
from typing import Final

log = logging.getLogger("ems")

REFUSED: Final = 2
# a worker that dies sooner than this after its start waits this long before its restart
RESTART_DELAY: Final = 1.0
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
BACKLOG: Final = 2048  # uvicorn's default

# what a worker runs: (its slot, the listening socket, the parent-watch descriptor) -> status
StartWorker = Callable[[int, socket.socket, int], int]


def listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (OSError if it cannot be bound)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, count: int, sock: socket.socket, worker: StartWorker) -> None:
        self.count = count
        self._sock = sock
        self._worker = worker
        self._children: dict[int, tuple[int, float]] = {}  # pid -> (slot, started)
        self._signals: list[int] = []
        self._refused = False
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
        if self._refused:
            return REFUSED
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
            if code == REFUSED:
                log.error("worker %d could not start (see above); stopping the others", slot)
                self._refused = True
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
        code = 1
        try:
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            os.setpgid(0, 0)
            os.close(self._alive)
            code = self._worker(slot, self._sock, self._watch)
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
