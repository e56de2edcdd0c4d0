"""Connecting to PostgreSQL one host at a time, each with a timeout of its own.

asyncpg walks a multi-host URL inside one timeout (MagicStack/asyncpg#1155): when the first host
hangs (frozen, powered off, cut off: no refusal, no answer) the whole budget is spent on it and
the next host, perhaps the standby just promoted, is never tried. libpq gives every host its own
``connect_timeout``, and so does the :class:`Connector`, for the pool, the listener and migrations:

- each host is tried in turn with its own timeout (the URL's ``connect_timeout``, else the
  store's); ``target_session_attrs`` is checked on each, as asyncpg does, and ``prefer-standby``
  takes any host only once none answered as a standby;
- the host that took the last connection is tried first, and a host that is *slow* is tried
  last: one whose connection attempt timed out, or through whose connection the store found the
  database unavailable (:meth:`Connector.distrust`), until it takes a connection again. After a
  failover a hung old primary so costs one connect timeout at most, usually none, rather than one
  per new connection; hosts that refuse at once cost nothing and keep their place;
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
        self._last = 0  # index of the host that took the last connection
        self._slow: set[int] = set()  # indexes of the hosts tried last (see the module doc)
        # every connection made: (its server process id, the index of its host)
        self._made: weakref.WeakKeyDictionary[asyncpg.Connection[Any], tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )

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
            self._made[conn] = (conn.get_server_pid(), -1)
            return conn
        failures: list[tuple[Host, BaseException]] = []
        order = [self._last, *(i for i in range(len(hosts)) if i != self._last)]
        order = [i for i in order if i not in self._slow] + [i for i in order if i in self._slow]
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
                    if isinstance(error, TimeoutError):
                        self._slow.add(index)
                    continue
                self._last = index
                self._slow.discard(index)
                self._made[conn] = (conn.get_server_pid(), index)
                return conn
        raise NoHostAvailable(failures, self.host_timeout)

    def distrust(self, server_pid: int) -> None:
        """The database was found unavailable through the connection to the server process
        ``server_pid``: its host is tried last until it takes a connection again."""
        for pid, index in list(self._made.values()):
            if pid == server_pid and index >= 0:
                self._slow.add(index)

    def terminate_all(self) -> int:
        """Terminate every open connection this connector made (no waiting on the network:
        the server may be the one that hangs); returns how many there were."""
        count = 0
        for conn in list(self._made.keys()):
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
