"""PostgreSQL URLs as asyncpg and libpq read them: the hosts to try, and a form fit for logs.

Operators give EMS whatever URL their other tools take: one host, a failover list
(``postgresql://ems@db1:5432,db2:5432/ems?target_session_attrs=read-write``), hosts in the query
(``?host=db1,db2&port=5432,5433``), unix-socket directories (``?host=/run/postgresql``), or no
host at all (``PGHOST`` and asyncpg's defaults). Two things need the URL apart:

- the start-up log line, which must never stop the server and never show a password: it keeps
  the host part and a few harmless query parameters as written, without interpreting them;
- the connector (:mod:`ems.storage.postgres.hosts`), which tries each host with a timeout of its
  own and so needs the list asyncpg would walk.

Nothing here imports the driver: the settings use it even where asyncpg is not installed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

# shown in logs as written: where the server is and what kind of session EMS asks for
_SHOWN_PARAMETERS: Final = frozenset({"host", "port", "dbname", "target_session_attrs"})
_UNPRINTABLE: Final = re.compile(r"[\x00-\x1f\x7f]")
_IPV6_HOST: Final = re.compile(r"\[([^\]]+)\](?::(\d*))?")
SESSION_ATTRS: Final = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")
HIDDEN: Final = "(not shown)"


def shown(url: str) -> str:
    """Where ``url`` points, for a log line: hosts, database and a few parameters as written,
    never the user, the password or any other parameter. Never raises.

    A password is meant to be percent-encoded; if it is not (a ``/``, ``?`` or ``#`` in it), the
    host part is ambiguous, so anything that could be a piece of it is left out.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return HIDDEN
    # the host part ends where urlsplit (and so asyncpg) ends it
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        hosts = netloc.rpartition("@")[2]
    elif "@" in tail:
        hosts = HIDDEN  # "user:pa/ss@db": the text before the '@' could be a password
    else:
        hosts = netloc
    tail = tail.partition("#")[0]
    path, _, query = tail.partition("?")
    if "@" in path:
        path = "/" + HIDDEN
    kept = [
        pair
        for pair in query.split("&")
        if pair.partition("=")[0] in _SHOWN_PARAMETERS and "@" not in pair
    ]
    text = f"{scheme}://{hosts}{path}" + ("?" + "&".join(kept) if kept else "")
    return _UNPRINTABLE.sub("?", text)


@dataclass(frozen=True, slots=True)
class Host:
    """One server to try: a name or address and its port, or a unix-socket directory."""

    host: str
    port: int

    def __str__(self) -> str:
        if self.host.startswith("/"):
            return f"{self.host}/.s.PGSQL.{self.port}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Target:
    """What the connector needs from a URL: the URL asyncpg gets, the hosts to walk (empty:
    let asyncpg find the server itself), the session attribute wanted, and libpq's per-host
    ``connect_timeout`` if the URL gives one."""

    dsn: str
    hosts: tuple[Host, ...]
    session_attrs: str
    connect_timeout: float | None


def target(url: str, environ: Mapping[str, str] | None = None) -> Target:
    """Read ``url`` as asyncpg does (``ValueError`` if it cannot be read; the message never
    quotes the URL). The host list comes from the URL's host part, else its ``host``
    parameter, else ``PGHOST``; ports likewise from the host part, ``port``, ``PGPORT``."""
    environ = os.environ if environ is None else environ
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)  # the last value wins, as in asyncpg
    timeout = params.get("connect_timeout")
    dsn = url
    if timeout is not None:
        # libpq's per-host timeout; asyncpg would send it to the server as a setting, which
        # PostgreSQL refuses, so EMS applies it and asyncpg never sees it
        remaining = [(k, v) for k, v in query if k != "connect_timeout"]
        encoded = "&".join(f"{k}={_quote_value(v)}" for k, v in remaining)
        dsn = urlunsplit(parts._replace(query=encoded))
    netloc = parts.netloc.rpartition("@")[2]
    if netloc:
        hosts = _host_list(netloc, None, environ, quoted=True)
    elif params.get("host"):
        hosts = _host_list(params["host"], params.get("port"), environ, quoted=False)
    elif environ.get("PGHOST"):
        hosts = _host_list(environ["PGHOST"], environ.get("PGPORT"), environ, quoted=False)
    else:
        hosts = ()
    attrs = params.get("target_session_attrs") or environ.get("PGTARGETSESSIONATTRS") or "any"
    if attrs not in SESSION_ATTRS:
        raise ValueError(f"target_session_attrs must be one of {', '.join(SESSION_ATTRS)}")
    return Target(dsn, hosts, attrs, _seconds(timeout))


def _host_list(
    spec: str, ports: str | None, environ: Mapping[str, str], *, quoted: bool
) -> tuple[Host, ...]:
    names: list[str] = []
    own_ports: list[str] = []
    for item in spec.split(","):
        if item.startswith("["):
            match = _IPV6_HOST.fullmatch(item)
            if match is None:
                raise ValueError("the database URL has an invalid IPv6 address")
            name, port = match.group(1), match.group(2) or ""
        elif item.startswith("/"):
            name, port = item, ""
        else:
            name, _, port = item.partition(":")
        if not name:
            raise ValueError("the database URL has an empty host name")
        names.append(unquote(name) if quoted else name)
        own_ports.append(unquote(port) if quoted else port)
    fallback = _ports(ports or environ.get("PGPORT") or "5432", len(names))
    try:
        return tuple(
            Host(name, int(port) if port else fallback[i])
            for i, (name, port) in enumerate(zip(names, own_ports, strict=True))
        )
    except ValueError:
        raise ValueError("the database URL has a port that is not a number") from None


def _ports(spec: str, count: int) -> list[int]:
    try:
        ports = [int(p) for p in spec.split(",")]
    except ValueError:
        raise ValueError("the database URL has a port that is not a number") from None
    if len(ports) == 1:
        return ports * count
    if len(ports) != count:
        raise ValueError(
            f"the database URL names {count} hosts but {len(ports)} ports: give one port, "
            "or one per host"
        )
    return ports


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("the database URL's connect_timeout is not a number") from None
    # as in libpq: zero or less means no limit of its own (EMS's own limit then applies)
    return seconds if seconds > 0 else None


def _quote_value(value: str) -> str:
    return quote(value, safe="/,:@-._~")
