"""IPv6 addresses that carry an IPv4 address are judged by it (delivery/ssrf.py), in every
spelling; and a real ``ems serve`` refuses them, inside a network namespace with only loopback
(so that a guard that failed could not reach anything)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ems.delivery.ssrf import AddressPolicy, embedded_ipv4

# (an IPv6 spelling, the IPv4 address it stands for)
EMBEDDED = [
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
    ("::FFFF:7F00:1", "127.0.0.1"),
    ("0:0:0:0:0:ffff:a9fe:a9fe", "169.254.169.254"),
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("::a00:1", "10.0.0.1"),
    ("::ffff:0:127.0.0.1", "127.0.0.1"),  # SIIT
    ("::ffff:0:c0a8:101", "192.168.1.1"),
    ("64:ff9b::127.0.0.1", "127.0.0.1"),  # NAT64, well-known prefix
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:FF9B:0:0:0:0:0A00:0001", "10.0.0.1"),
    ("2002:7f00:1::", "127.0.0.1"),  # 6to4
    ("2002:a9fe:a9fe:1234::1", "169.254.169.254"),
    ("2002:c0a8:0101::", "192.168.1.1"),
]
# Teredo: 2001:0:<server>:<flags>:<port>:<client, inverted>
TEREDO = [
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", ("65.54.227.120", "127.0.0.1")),
    ("2001:0:808:808:0:0:f5ff:fffe", ("8.8.8.8", "10.0.0.1")),
    ("2001:0:7f00:1:0:0:f7f7:f7f7", ("127.0.0.1", "8.8.8.8")),
]
LOCAL_ONLY = ["64:ff9b:1::7f00:1", "64:ff9b:1:ffff::808:808", "fec0::1", "FEC0:0:0:1::1"]
PUBLIC_EMBEDDED = ["64:ff9b::8.8.8.8", "2002:808:808::1", "::ffff:8.8.8.8", "::ffff:0:8.8.4.4"]


@pytest.mark.parametrize(("spelling", "inner"), EMBEDDED)
def test_an_embedded_ipv4_address_is_found_and_judged(spelling: str, inner: str) -> None:
    address = ipaddress.IPv6Address(spelling)
    assert embedded_ipv4(address) == (ipaddress.IPv4Address(inner),)
    assert not AddressPolicy().permits(address)
    assert AddressPolicy(allow_private=True).permits(address)


@pytest.mark.parametrize(("spelling", "inner"), TEREDO)
def test_teredo_is_judged_by_its_server_and_its_inverted_client(
    spelling: str, inner: tuple[str, str]
) -> None:
    address = ipaddress.IPv6Address(spelling)
    assert embedded_ipv4(address) == tuple(ipaddress.IPv4Address(a) for a in inner)
    assert not AddressPolicy().permits(address)


@pytest.mark.parametrize("spelling", LOCAL_ONLY)
def test_local_use_nat64_and_site_local_are_refused_whole(spelling: str) -> None:
    assert not AddressPolicy().permits(ipaddress.IPv6Address(spelling))


@pytest.mark.parametrize("spelling", PUBLIC_EMBEDDED)
def test_a_public_embedded_address_is_public(spelling: str) -> None:
    assert AddressPolicy().permits(ipaddress.IPv6Address(spelling))


def test_an_allowed_ipv4_network_allows_its_ipv6_forms() -> None:
    policy = AddressPolicy.from_settings(False, ["10.1.0.0/16"])
    assert policy.permits(ipaddress.IPv6Address("64:ff9b::10.1.2.3"))
    assert policy.permits(ipaddress.IPv6Address("::ffff:10.1.2.3"))
    assert not policy.permits(ipaddress.IPv6Address("64:ff9b::10.2.0.1"))


def test_other_ipv6_addresses_are_untouched() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) == ()
    assert AddressPolicy().permits(ipaddress.IPv6Address("2606:4700:4700::1111"))
    assert not AddressPolicy().permits(ipaddress.IPv6Address("fd00::1"))


NAMESPACE_SCRIPT = Path(__file__).with_name("ssrf_namespace.py")


@pytest.mark.e2e
def test_a_real_server_refuses_every_form_inside_a_network_namespace(tmp_path: Path) -> None:
    assert shutil.which("unshare"), "unshare (util-linux) runs this test in its own network"
    assert shutil.which("ip"), "ip (iproute2) brings the namespace's loopback up"
    hosts = tmp_path / "hosts"
    forms = [spelling for spelling, _ in EMBEDDED] + [spelling for spelling, _ in TEREDO]
    names = {f"form{i}.test": spelling for i, spelling in enumerate(forms)}
    hosts.write_text("".join(f"{spelling} {name}\n" for name, spelling in names.items()))
    urls = [f"http://[{s}]:8080/hook" for s in forms]
    urls += [f"http://[{s}]/hook" for s in LOCAL_ONLY]
    urls += [f"http://{name}:8080/hook" for name in names]  # the same, behind a host name
    request = {"data_dir": str(tmp_path / "data"), "urls": urls}
    # a private network and mount namespace: only loopback, and /etc/hosts naming the forms
    script = (
        f"mount --bind {hosts} /etc/hosts && ip link set lo up && "
        f"exec {sys.executable} {NAMESPACE_SCRIPT}"
    )
    result = subprocess.run(
        ["unshare", "--net", "--mount", "sh", "-c", script],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert len(answers) == len(urls)
    for url, (status, problem) in zip(urls, answers, strict=True):
        assert status == 400, (url, status)
        assert problem == "/ems/problems/forbidden-webhook-url", url
