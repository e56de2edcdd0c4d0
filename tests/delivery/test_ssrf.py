from __future__ import annotations

import ipaddress

import pytest

from ems.core.errors import ForbiddenWebhookUrl
from ems.delivery.ssrf import AddressPolicy, resolve

FORBIDDEN = [
    "127.0.0.1", "127.5.5.5", "10.0.0.1", "172.16.3.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12::1",
    "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "192.0.2.10",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert not AddressPolicy().permits(ipaddress.ip_address(address))
    assert AddressPolicy(allow_private=True).permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_permitted(address: str) -> None:
    assert AddressPolicy().permits(ipaddress.ip_address(address))


def test_allowed_networks_open_only_themselves() -> None:
    policy = AddressPolicy.from_settings(False, ["10.1.0.0/16"])
    assert policy.permits(ipaddress.ip_address("10.1.2.3"))
    assert not policy.permits(ipaddress.ip_address("10.2.0.1"))
    assert not policy.permits(ipaddress.ip_address("169.254.169.254"))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data",
     "http://[::1]:8080/", "http://localhost/hook", "https://LocalHost/"],
)  # fmt: skip
async def test_resolution_refuses_forbidden_destinations(url: str) -> None:
    with pytest.raises(ForbiddenWebhookUrl, match="not a public address"):
        await resolve(url, AddressPolicy())


async def test_a_name_resolves_to_the_addresses_that_are_connected_to() -> None:
    destination = await resolve("http://user:p%40ss@localhost:8123/a/b?c=d", AddressPolicy(True))
    assert set(destination.addresses) <= {"127.0.0.1", "::1"}
    assert destination.target == "/a/b?c=d"
    assert destination.host_header == "localhost:8123"
    assert (destination.username, destination.password) == ("user", "p@ss")
