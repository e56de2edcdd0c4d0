"""Per-connection limits: what one client connection may make the server hold, and for how long.

uvicorn's HTTP protocol keeps a connection for as long as the client likes. One that sends
nothing, sends its headers a byte at a time (slowloris), stops halfway through a body or stops
reading its answer holds a file descriptor forever, and httptools buffers a header value whole,
however long it grows. A thousand such connections from one client used up a 1024 open-file
limit and locked every other client out, without a word in the log.

:func:`guarded_protocol` returns uvicorn's httptools protocol with these limits added:

- a request's header section must arrive within ``header_timeout`` seconds of its first byte
  (of the connection's first byte, for its first request) and fit in ``max_header_bytes``
  (``431`` otherwise);
- a request body, and an answer the client is reading, may make no progress for at most
  ``body_timeout`` seconds (a stalled upload gets ``408``; a reader that stopped is cut off);
- at most ``max_connections`` are open, and ``max_connections_per_client`` from one address
  (trusted proxies, which carry many clients, are exempt): a request on a connection past
  either cap is read, then answered ``503 too-many-connections`` with ``Connection: close``.

One timer per connection enforces every deadline: it is armed when a deadline starts and, when
it fires, re-arms itself for whatever deadline is current, so a busy keep-alive connection costs
a few attribute writes per request, not a timer each. Refusals are written here, below the
application, and counted in :class:`ConnectionStats` (``/metrics``).

This subclasses uvicorn's ``HttpToolsProtocol`` and relies on its attribute names (``cycle``,
``flow``, ``url``, ``headers``); the tests in ``tests/hostile`` drive every limit through real
sockets, so an incompatible uvicorn fails them rather than the limits failing quietly.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ems.core import metrics as metrics_format
from ems.core.errors import EmsError
from ems.server import problems

# during a stop, an upload may be silent this long before it is cut off (instead of
# body_timeout): nothing new is accepted, so a stalled upload would only hold the stop up
SHUTDOWN_STALL_SECONDS: Final = 1.0

REFUSALS: Final = ("max_connections", "max_connections_per_client")
CLOSES: Final = ("header_timeout", "body_timeout", "response_stall", "headers_too_large")

# where a connection is in its current request
_HEADERS: Final = 0  # waiting for the header section to end
_BODY: Final = 1  # headers read, the body is arriving (or none is due and this ends at once)
_OTHER: Final = 2  # request read: the application answers, or the connection is idle


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int = 16384
    max_connections_per_client: int = 1024  # 0: no per-address cap
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024


class ConnectionStats:
    """What the connection limits did, for ``/metrics``."""

    def __init__(self) -> None:
        self.open = 0
        self.refused = dict.fromkeys(REFUSALS, 0)
        self.closed = dict.fromkeys(CLOSES, 0)

    def render(self) -> list[str]:
        lines = list(
            metrics_format.gauge(
                "ems_connections_open", "Client connections open.", [((), self.open)]
            )
        )
        lines += [
            "# HELP ems_connections_refused_total Connections opened past a connection cap "
            "(a request on one is answered 503).",
            "# TYPE ems_connections_refused_total counter",
            *(f'ems_connections_refused_total{{cap="{r}"}} {n}' for r, n in self.refused.items()),
            "# HELP ems_connections_closed_total Connections closed by a limit: header or body "
            "timeout, a stalled reader, an oversized header section.",
            "# TYPE ems_connections_closed_total counter",
            *(f'ems_connections_closed_total{{reason="{r}"}} {n}' for r, n in self.closed.items()),
        ]
        return lines


@dataclass(slots=True)
class _Guard:
    """What every connection of one server shares."""

    limits: ConnectionLimits
    stats: ConnectionStats
    exempt: Callable[[str], bool]
    per_client: dict[str, int] = field(default_factory=dict)  # open connections by address


def guarded_protocol(
    limits: ConnectionLimits, stats: ConnectionStats, exempt: Callable[[str], bool]
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol enforcing ``limits``; ``exempt(address)`` is true for peers
    the per-client cap does not apply to (trusted proxies)."""

    class Protocol(GuardedProtocol):
        guard = _Guard(limits, stats, exempt)

    return Protocol


# the per-request callbacks call the base class directly: super() costs a few hundred ns each,
# five times a request
_Base = HttpToolsProtocol


class GuardedProtocol(HttpToolsProtocol):
    guard: ClassVar[_Guard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.guard.limits
        self._phase = _HEADERS
        self._header_bytes = 0
        self._headers_since = 0.0
        self._progress = 0.0  # when the body last moved (or reading was paused by us)
        self._write_stalled_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # a body timeout shorter than the header timeout needs a timer of its own
        self._body_first = self._limits.body_timeout < self._limits.header_timeout
        self._peer: str | None = None
        self._refusal: str | None = None  # the cap this connection is past, if any
        self._refusing = False  # the current request is read only to be refused
        self._stopping = False
        self._done = False  # closed by a limit: ignore whatever else arrives

    # connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        stats, limits = guard.stats, guard.limits
        stats.open += 1
        if self.client is not None and limits.max_connections_per_client:
            peer = self.client[0]
            if not guard.exempt(peer):
                self._peer = peer
                count = guard.per_client[peer] = guard.per_client.get(peer, 0) + 1
                if count > limits.max_connections_per_client:
                    self._refusal = "max_connections_per_client"
        if stats.open > limits.max_connections:
            self._refusal = "max_connections"
        if self._refusal is not None:
            stats.refused[self._refusal] += 1
        self._begin_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        guard = self.guard
        guard.stats.open -= 1
        if self._peer is not None:
            left = guard.per_client[self._peer] - 1
            if left:
                guard.per_client[self._peer] = left
            else:
                del guard.per_client[self._peer]
            self._peer = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._phase == _OTHER and (self.cycle is None or self.cycle.response_complete):
            self._begin_headers()  # bytes between requests (even a bare CRLF) start a request
        if self._phase == _HEADERS:
            self._header_bytes += len(data)
        _Base.data_received(self, data)
        if self._phase == _HEADERS and self._header_bytes > self._limits.max_header_bytes:
            self._refuse_headers()

    def shutdown(self) -> None:
        self._stopping = True
        if self._phase == _BODY and not self._done:
            self._arm(self._progress + SHUTDOWN_STALL_SECONDS)
        super().shutdown()

    def pause_writing(self) -> None:
        super().pause_writing()
        now = self.loop.time()
        self._write_stalled_since = now
        self._arm(now + self._limits.body_timeout)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._write_stalled_since = None

    # parser callbacks

    def on_message_begin(self) -> None:
        if self._phase != _HEADERS:
            self._begin_headers()
        _Base.on_message_begin(self)

    def on_headers_complete(self) -> None:
        if self._header_bytes > self._limits.max_header_bytes and self._header_size() > (
            self._limits.max_header_bytes
        ):
            self._refuse_headers()
            return
        # the timer armed when the headers began checks the body from here on
        self._phase = _BODY
        self._progress = self._headers_since
        if self._body_first:
            self._arm(self._progress + self._limits.body_timeout)
        if self._refusal is not None:
            self._refusing = True  # read the request (so the answer is not lost), then refuse
            return
        _Base.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        self._progress = self.loop.time()
        if not self._refusing and not self._done:
            _Base.on_body(self, body)

    def on_message_complete(self) -> None:
        self._phase = _OTHER
        if self._done:
            return
        if self._refusing:
            self._write_refusal(problems.TooManyConnections(_busy(self._refusal)))
            return
        _Base.on_message_complete(self)

    # deadlines

    def _begin_headers(self) -> None:
        self._phase = _HEADERS
        self._header_bytes = 0
        self._headers_since = self.loop.time()
        self._arm(self._headers_since + self._limits.header_timeout)

    def _arm(self, deadline: float) -> None:
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return  # it fires first, and re-arms for what is due then
            timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._done or self.transport.is_closing():
            return
        now = self.loop.time()
        limits = self._limits
        due: list[float] = []
        stalled = self._write_stalled_since
        if stalled is not None:
            if now >= stalled + limits.body_timeout:
                self._close("response_stall", None)
                return
            due.append(stalled + limits.body_timeout)
        if self._phase == _HEADERS:
            deadline = self._headers_since + limits.header_timeout
            if now >= deadline:
                # a connection that never sent a byte is just closed; a started request is told
                error = problems.RequestTimeout(_HEADER_TIMEOUT) if self._header_bytes else None
                self._close("header_timeout", error)
                return
            due.append(deadline)
        elif self._phase == _BODY:
            if self.flow.read_paused:
                self._progress = now  # the application has not taken what arrived: not a stall
            allowed = SHUTDOWN_STALL_SECONDS if self._stopping else limits.body_timeout
            deadline = self._progress + allowed
            if now >= deadline:
                self._close("body_timeout", problems.RequestTimeout(_BODY_TIMEOUT))
                return
            due.append(deadline)
        if due:
            self._arm(min(due))

    # refusals

    def _header_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _refuse_headers(self) -> None:
        self.guard.stats.closed["headers_too_large"] += 1
        limit = self._limits.max_header_bytes
        self._write_refusal(
            problems.HeadersTooLarge(
                f"The request line and headers exceed {limit} bytes, the most this server reads; "
                "send large values in the body."
            )
        )

    def _close(self, reason: str, error: EmsError | None) -> None:
        self.guard.stats.closed[reason] += 1
        if reason == "response_stall":
            self._done = True
            self.transport.abort()  # what is buffered for a reader that stopped is dropped
            return
        cycle = self.cycle
        if error is not None and cycle is not None:
            if cycle.response_complete:
                if self._phase == _BODY:
                    error = None  # answered already (early, e.g. 413); the body never came
            elif cycle.response_started:
                error = None  # the application is answering; nothing more can be said
            else:
                # the application is waiting (for the body): it sees a disconnect, and anything
                # it still sends is dropped rather than written after this answer
                cycle.disconnected = True
                cycle.message_event.set()
        if error is None:
            self._done = True
            self.transport.close()
        else:
            self._write_refusal(error)

    def _write_refusal(self, error: EmsError) -> None:
        """Answer with a problem and close: written directly, the application never saw it."""
        self._done = True
        status = problems.status_of(error)
        body = problems.render(error)
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode()),
            b"content-type: " + problems.CONTENT_TYPE + b"\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
        ]
        if status == 503:
            head.append(b"retry-after: 1\r\n")
        self.transport.write(b"".join(head) + b"\r\n" + body)
        self.transport.close()


_HEADER_TIMEOUT: Final = (
    "The request's headers did not arrive in time; send the whole request at once."
)
_BODY_TIMEOUT: Final = "The request body stopped arriving; the connection is closed."


def _busy(cap: str | None) -> str:
    if cap == "max_connections_per_client":
        return (
            "This client address has as many connections open as the server allows; reuse "
            "them (keep-alive) or close some, then retry."
        )
    return "The server has as many connections open as it allows; retry shortly."
