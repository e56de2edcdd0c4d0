"""The SSRF guard: webhooks reach only public addresses unless the operator says otherwise.

A URL is checked when subscribed and again at every delivery, after DNS resolution: EMS resolves
the name itself, refuses the destination if *any* address it resolves to is forbidden, and then
connects to exactly the addresses it checked, so a name that re-resolves to a private address
between the check and the connection (DNS rebinding) cannot get through.

Forbidden unless allowed: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 and
fe80::/10, where cloud metadata services live), shared CGNAT space (100.64/10), multicast,
unspecified and reserved addresses: everything that is not globally routable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ems.core.errors import ForbiddenWebhookUrl, InvalidWebhookUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnresolvableHost(OSError):
    """The host name does not resolve (now); a later attempt may succeed."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, networks: Iterable[str]) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.allow_private or any(address in network for network in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one request goes: the checked addresses to connect to, and what to say there."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]
    username: str | None = None
    password: str | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


async def resolve(url: str, policy: AddressPolicy) -> Destination:
    """Parse, resolve and check ``url``; raise ForbiddenWebhookUrl or UnresolvableHost."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise InvalidWebhookUrl(f"The webhook URL is not valid: {error}.") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidWebhookUrl("The webhook URL must be an absolute http(s) URL with a host.")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    forbidden = [a for a in addresses if not policy.permits(a)]
    if forbidden:
        raise ForbiddenWebhookUrl(
            f"The webhook host {host!r} resolves to {forbidden[0]}, which is not a public "
            "address: EMS does not call loopback, private, link-local, CGNAT, multicast or "
            "unspecified addresses. (An operator can allow them with --webhook-allow-private "
            "or --webhook-allow-net.)",
            parameter="url",
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(
        scheme=parts.scheme,
        host=host,
        port=port,
        target=target,
        addresses=tuple(dict.fromkeys(str(a) for a in addresses)),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UnresolvableHost(f"cannot resolve {host!r}: {error.strerror}") from None
    found = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        # a scope id (fe80::1%eth0) is not part of the address
        found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    if not found:
        raise UnresolvableHost(f"{host!r} has no address")
    return found
