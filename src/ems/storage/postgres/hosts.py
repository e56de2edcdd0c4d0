"""Connecting to PostgreSQL one host at a time, each with a timeout of its own.

asyncpg walks a multi-host URL inside one timeout (MagicStack/asyncpg#1155): when the first host
hangs (frozen, powered off, cut off: no refusal, no answer) the whole budget is spent on it and
the next host, perhaps the standby just promoted, is never tried. libpq gives every host its own
``connect_timeout``, and so does the :class:`Connector`, for the pool, the listener and migrations:

- each host is tried in turn with its own timeout (the URL's ``connect_timeout``, else the
  store's); ``target_session_attrs`` is checked on each, as asyncpg does, and ``prefer-standby``
  takes any host only once none answered as a standby;
- the host that took the last connection is tried first, unless the store has since found the
  database unavailable through it (:meth:`Connector.distrust`): then the next host in the list
  is. After a failover, a hung old primary costs no connect timeout at all, or one at most,
  rather than one per new connection;
- errors that say a host cannot serve now (refused, timed out, starting up, the wrong kind of
  server) move on to the next host; the others (a wrong password, no such database) are the
  operator's to fix and stop the walk at once;
- every connection made is remembered (weakly), so that the store can terminate them all when it
  finds the database unavailable: a connection to a hung server would otherwise stay in the pool.
"""

from __future__ import annotations

import weakref
from typing import Any, Final

import asyncpg
from asyncpg.connect_utils import SessionAttribute

from ems.storage.database_url import Host, Target, target

# a host that answers in none of these ways is tried no further: its error is the operator's
NEXT_HOST: Final[tuple[type[BaseException], ...]] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # starting up, shutting down
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    asyncpg.exceptions.InternalClientError,  # not the target_session_attrs asked for
)


class NoHostAvailable(ConnectionError):
    """Every host of the URL failed to give a usable connection; the message says how each
    did (hosts and errors only: never the user or the password)."""

    def __init__(self, failures: list[tuple[Host, BaseException]], timeout: float) -> None:
        super().__init__("; ".join(_failure(host, error, timeout) for host, error in failures))
        # true when every host answered but none was the kind asked for (say, all standbys)
        self.wrong_kind = bool(failures) and all(
            isinstance(error, asyncpg.exceptions.TargetServerAttributeNotMatched)
            for _, error in failures
        )


class Connector:
    """Makes connections for one URL; see the module doc. ``connect`` fits asyncpg's pool."""

    def __init__(self, url: str, host_timeout: float) -> None:
        self.target: Target = target(url)
        self.host_timeout = self.target.connect_timeout or host_timeout
        attrs = SessionAttribute(self.target.session_attrs)  # ValueError names the bad value
        self._passes = (
            (SessionAttribute.standby, SessionAttribute.any)
            if attrs is SessionAttribute.prefer_standby
            else (attrs,)
        )
        self._first = 0  # index of the host that took the last connection
        self._made: weakref.WeakSet[asyncpg.Connection[Any]] = weakref.WeakSet()

    @property
    def hosts(self) -> tuple[Host, ...]:
        return self.target.hosts

    async def connect(self, dsn: object = None, **options: Any) -> asyncpg.Connection[Any]:
        """A new connection to the first host that takes it. ``options`` go to asyncpg (the
        pool adds ``loop``, which asyncpg no longer wants, and its connection classes)."""
        options.pop("loop", None)
        hosts = self.target.hosts
        conn: asyncpg.Connection[Any]
        if not hosts:
            # no host in the URL or PGHOST: asyncpg finds the server itself (local sockets)
            conn = await asyncpg.connect(self.target.dsn, timeout=self.host_timeout, **options)
            self._made.add(conn)
            return conn
        failures: list[tuple[Host, BaseException]] = []
        order = [self._first, *(i for i in range(len(hosts)) if i != self._first)]
        for attrs in self._passes:
            for index in order:
                host = hosts[index]
                try:
                    conn = await asyncpg.connect(
                        self.target.dsn,
                        host=host.host,
                        port=host.port,
                        timeout=self.host_timeout,
                        target_session_attrs=attrs,
                        **options,
                    )
                except NEXT_HOST as error:
                    failures.append((host, error))
                    continue
                self._first = index
                self._made.add(conn)
                return conn
        raise NoHostAvailable(failures, self.host_timeout)

    def distrust(self) -> None:
        """The database was found unavailable through the host that took the last connection:
        start the next walk with the host after it (it comes last in the walk)."""
        if self.target.hosts:
            self._first = (self._first + 1) % len(self.target.hosts)

    def terminate_all(self) -> int:
        """Terminate every open connection this connector made (no waiting on the network:
        the server may be the one that hangs); returns how many there were."""
        count = 0
        for conn in list(self._made):
            if not conn.is_closed():
                conn.terminate()
                count += 1
        return count


def _failure(host: Host, error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"{host}: no answer within {timeout:g} s"
    if isinstance(error, asyncpg.exceptions.TargetServerAttributeNotMatched):
        return f"{host}: not the kind of server target_session_attrs asks for"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{host}: {type(error).__name__}{': ' + text if text else ''}"
