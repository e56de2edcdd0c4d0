"""Who may talk to this server, how much, and who may create or administer.

- The client's address is the peer's, or, when the peer is a trusted proxy
  (``--forwarded-allow-ips``), the last address in ``X-Forwarded-For`` that is not itself one.
- ``--allow-cidr`` refuses every other client with 403 (health probes excepted).
- ``--rate-limit`` gives each client address a token bucket: 429 with Retry-After when empty.
- With API keys configured, creating queues and topics needs ``Authorization: Bearer <key>``,
  and each key has quotas. Without keys, creation is open to whoever the allowlist admits.
- With an admin token configured, ``/ems/admin`` exists, for that token only.

Secrets are compared as hashes or in constant time, and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ems.asgi import Scope, header
from ems.core.errors import ClientNotAllowed, RateLimited, Unauthorized

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientAddress:
    """The address a request really comes from."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = _networks(trusted_proxies)

    def _is_proxy(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in n for n in self.trusted)

    def is_trusted_proxy(self, peer: str) -> bool:
        """Whether this peer is a proxy speaking for other clients (``--forwarded-allow-ips``)."""
        return bool(self.trusted) and self._is_proxy(_address(peer))

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if not self.trusted or not self._is_proxy(_address(peer)):
            return peer
        forwarded = header(scope, b"x-forwarded-for")
        if not forwarded:
            return peer
        # walk from the nearest hop: the first address that is not a trusted proxy is the client
        for hop in reversed(forwarded.decode("latin-1").split(",")):
            address = _address(hop)
            if address is None:
                return peer  # a malformed chain is not trusted
            if not self._is_proxy(address):
                return str(address)
        return peer


class Allowlist:
    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks = _networks(cidrs)

    def check(self, client: str) -> None:
        address = _address(client)
        if address is None or not any(address in n for n in self.networks):
            raise ClientNotAllowed()


class RateLimiter:
    """A token bucket per client: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, list[float]] = {}
        self._checks = 0

    def check(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = [float(self.burst), now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            raise RateLimited((1 - tokens) / self.rate)
        bucket[0] = tokens - 1
        self._checks += 1
        if self._checks % 10_000 == 0:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        # a bucket that has refilled completely holds no information
        full_after = self.burst / self.rate
        for client in [c for c, (_, at) in self._buckets.items() if now - at > full_after]:
            del self._buckets[client]


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    queues: int | None
    topics: int | None


class ApiKeys:
    """API keys for creating queues and topics, known by their SHA-256 only."""

    def __init__(self, keys: Mapping[bytes, ApiKey]) -> None:
        self._keys = dict(keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    @classmethod
    def load(cls, spec: str | None, file: Path | None) -> ApiKeys:
        """``name:key[:queues[:topics]]`` entries, comma-separated, and/or a JSON file
        ``{"keys": [{"name", "key", "queues"?, "topics"?}]}``. Raises :class:`ApiKeysError`,
        whose message names the entry but never shows a key."""
        entries: list[tuple[str, dict[str, Any]]] = []
        for number, item in enumerate((spec or "").split(","), 1):
            if not item.strip():
                continue
            parts = item.strip().split(":")
            where = f"EMS_API_KEYS entry {number}"
            if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
                raise ApiKeysError(f"{where}: use name:key[:queues[:topics]]")
            entries.append(
                (
                    where,
                    {
                        "name": parts[0],
                        "key": parts[1],
                        "queues": _quota(parts, 2, where),
                        "topics": _quota(parts, 3, where),
                    },
                )
            )
        if file is not None:
            entries.extend(_load_file(file))
        keys: dict[bytes, ApiKey] = {}
        for where, entry in entries:
            key = str(entry["key"])
            if len(key) < MIN_KEY_CHARS:
                raise ApiKeysError(
                    f"{where}: the key of {str(entry['name'])!r} is shorter than "
                    f"{MIN_KEY_CHARS} characters; use a random key, such as python3 -c "
                    "'import secrets; print(secrets.token_urlsafe(24))'"
                )
            keys[_digest(key)] = ApiKey(
                str(entry["name"]), entry.get("queues"), entry.get("topics")
            )
        return cls(keys)

    def authorize(self, scope: Scope, kind: str) -> tuple[str | None, int | None]:
        """Who creates (the key's name) and its quota for ``kind``; open when no keys exist."""
        if not self._keys:
            return None, None
        token = bearer(scope)
        key = self._keys.get(_digest(token)) if token else None
        if key is None:
            raise Unauthorized(
                "Creating queues and topics on this server needs an API key: send it as "
                "'Authorization: Bearer <key>'."
            )
        return key.name, key.queues if kind == "queues" else key.topics


class ApiKeysError(ValueError):
    """EMS_API_KEYS or EMS_API_KEYS_FILE cannot be used; the message never shows a key."""


# a key is a password that never expires and cannot be rate limited per guess: too short a one
# can be found by trying
MIN_KEY_CHARS: Final = 16


def _quota(parts: list[str], index: int, where: str) -> int | None:
    if len(parts) <= index or not parts[index]:
        return None
    if not parts[index].isdigit():
        raise ApiKeysError(f"{where}: quotas are whole numbers, as in name:key:100:10")
    return int(parts[index])


def _load_file(file: Path) -> list[tuple[str, dict[str, Any]]]:
    where = f"EMS_API_KEYS_FILE {file}"
    try:
        document = json.loads(file.read_text())
        items = document["keys"]
        if not isinstance(items, list):
            raise TypeError
    except OSError as error:
        raise ApiKeysError(f"{where}: cannot read it ({error.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise ApiKeysError(
            f'{where}: expected JSON {{"keys": [{{"name": ..., "key": ...}}, ...]}}'
        ) from None
    found: list[tuple[str, dict[str, Any]]] = []
    for number, item in enumerate(items, 1):
        entry_where = f"{where}, key {number}"
        if not isinstance(item, dict) or not item.get("name") or not item.get("key"):
            raise ApiKeysError(f'{entry_where}: needs a "name" and a "key"')
        for quota in ("queues", "topics"):
            value = item.get(quota)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ApiKeysError(f"{entry_where}: {quota!r} must be a whole number")
        found.append((entry_where, item))
    return found


def bearer(scope: Scope) -> str | None:
    value = header(scope, b"authorization")
    if value is None or value[:7].lower() != b"bearer ":
        return None
    return value[7:].strip().decode("latin-1")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class AdminToken:
    def __init__(self, token: str | None) -> None:
        self._digest = _digest(token) if token else None

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def check(self, scope: Scope) -> None:
        assert self._digest is not None
        given = bearer(scope)
        if given is None or not hmac.compare_digest(_digest(given), self._digest):
            raise Unauthorized("The admin API needs 'Authorization: Bearer <EMS_ADMIN_TOKEN>'.")
