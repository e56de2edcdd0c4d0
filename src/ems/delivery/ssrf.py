"""The SSRF guard: webhooks reach only public addresses unless the operator says otherwise.

A URL is checked when subscribed and again at every delivery, after DNS resolution: EMS resolves
the name itself, refuses the destination if *any* address it resolves to is forbidden, and then
connects to exactly the addresses it checked, so a name that re-resolves to a private address
between the check and the connection (DNS rebinding) cannot get through.

Forbidden unless allowed: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 and
fe80::/10, where cloud metadata services live), shared CGNAT space (100.64/10), multicast,
unspecified and reserved addresses: everything that is not globally routable.

An IPv6 address that carries an IPv4 address is judged by that IPv4 address, because that is
where a translator, a tunnel or the host's own stack delivers it: IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, SIIT ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4
``2002:AABB:CCDD::`` and Teredo (server and client, whose address is stored inverted). Python's
``is_global`` calls most of these public, so ``64:ff9b::127.0.0.1`` would otherwise reach a
NAT64 gateway's loopback. The local-use NAT64 prefix ``64:ff9b:1::/48`` and the deprecated
site-local ``fec0::/10`` are private by definition and refused whole. ``ipaddress`` parses every
spelling (compressed, uppercase, dotted tail, zone id) to the same value, so the checks below
see one form.
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


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
# private by definition: the local-use NAT64 prefix (RFC 8215, where the IPv4 address sits
# depends on the operator's prefix length) and site-local addresses (deprecated by RFC 3879)
_LOCAL_ONLY_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("fec0::/10"))


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
        if self.allow_private or any(address in network for network in self.allowed_networks):
            return True
        if isinstance(address, ipaddress.IPv6Address):
            if any(address in network for network in _LOCAL_ONLY_V6):
                return False
            embedded = embedded_ipv4(address)
            if embedded:
                return all(self.permits(inner) for inner in embedded)
        return address.is_global and not address.is_multicast


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 transition address stands for; empty for any other address."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64 or address in _IPV4_COMPATIBLE or address in _SIIT:
        return (low32,)
    if address in _SIX_TO_FOUR:
        return (ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)
    if address in _TEREDO:
        server = ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        return (server, ipaddress.IPv4Address(int(low32) ^ 0xFFFFFFFF))
    return ()


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
    addresses = await _addresses(host, port)
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


class ForbiddenHost(OSError):
    """A host (the operator's SMTP server) resolves to an address the policy forbids."""


async def checked_addresses(host: str, port: int, policy: AddressPolicy) -> tuple[str, ...]:
    """The addresses of ``host`` to connect to, all permitted by ``policy``; raise ForbiddenHost
    (naming the address: for the operator's log only) or UnresolvableHost."""
    addresses = await _addresses(host, port)
    forbidden = [a for a in addresses if not policy.permits(a)]
    if forbidden:
        raise ForbiddenHost(f"{host!r} resolves to {forbidden[0]}, which is not a public address")
    return tuple(dict.fromkeys(str(a) for a in addresses))


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        return await _lookup(host, port)


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
