"""The SSRF guard, table-driven: every IPv6 form that carries an IPv4 address is judged by
that address, non-global special-purpose ranges are refused, and a refusal never names the
address a host resolved to."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from services.common.netguard import BlockedAddress, NetPolicy

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::", "metadata"),  # 6to4 of 169.254.169.254
    ("2002:0a00:0001::1", "private"),  # 6to4 of 10.0.0.1
    ("2001:0:5db8:d822:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
    ("2001:0:7f00:1:8000:63bf:a2b7:fdd2", "loopback"),  # Teredo, server 127.0.0.1
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::5db8:d822", "non-routable"),  # local-use NAT64
    ("::7f00:1", "loopback"),  # IPv4-compatible 127.0.0.1
    ("::5db8:d822", "non-routable"),  # IPv4-compatible is deprecated
    ("fec0::1", "private"),  # site-local
    ("192.0.0.192", "metadata"),
    ("192.0.0.170", "non-routable"),
    ("192.0.2.1", "non-routable"),
    ("198.18.0.1", "non-routable"),
    ("240.0.0.1", "non-routable"),
    ("255.255.255.255", "non-routable"),
    ("0.0.0.0", "non-routable"),
    ("::", "non-routable"),
    ("224.0.0.1", "non-routable"),
    ("ff02::1", "non-routable"),
    ("2001:db8::1", "non-routable"),
    ("100::1", "non-routable"),
    ("10.1.2.3", "private"),
    ("172.16.5.5", "private"),
    ("192.168.0.10", "private"),
    ("100.64.0.1", "private"),
    ("fd12::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
]
ALLOWED = [
    "93.184.216.34",
    "2606:2800:220:1::1",
    "::ffff:93.184.216.34",
    "2002:5db8:d822::1",  # 6to4 of a public address
    "64:ff9b::5db8:d822",  # NAT64 of a public address (DNS64 networks)
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_and_their_ipv6_embeddings_are_refused(
    address: str, kind: str
) -> None:
    with pytest.raises(BlockedAddress, match=kind):
        NetPolicy().check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_and_their_embeddings_are_allowed(address: str) -> None:
    NetPolicy().check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["2002:7f00:1::", "64:ff9b::7f00:1", "2001:0:5db8:d822:8000:63bf:80ff:fffe"]
)
def test_embedded_loopback_is_refused_even_when_private_networks_are_allowed(
    address: str,
) -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        NetPolicy(allow_private=True).check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe", "192.0.0.192"])
def test_embedded_metadata_is_refused_whatever_the_settings(address: str) -> None:
    with pytest.raises(BlockedAddress, match="metadata"):
        NetPolicy(allow_loopback=True, allow_private=True).check_ip(ipaddress.ip_address(address))


def test_private_allowance_opens_private_and_site_local_only() -> None:
    policy = NetPolicy(allow_private=True)
    for address in ("10.0.0.1", "fd12::1", "fec0::1", "fe80::1", "2002:0a00:0001::1"):
        policy.check_ip(ipaddress.ip_address(address))
    with pytest.raises(BlockedAddress):
        policy.check_ip(ipaddress.ip_address("192.0.0.170"))


def test_refusal_names_the_given_host_never_the_resolved_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(BlockedAddress) as info:
        NetPolicy().check_url("http://intranet.example/x")
    assert "intranet.example resolves to a private address" in str(info.value)
    assert "10.20.30.40" not in str(info.value)


def test_unusable_url_text_is_a_refusal_not_a_crash() -> None:
    for url in ("http://example.com:99999/", "http://[::1/", "http://exa\x7fmple.com/"):
        with pytest.raises(BlockedAddress):
            NetPolicy().check_url(url)


def test_a_slow_resolver_is_a_connection_error_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> list[Any]:
        release.wait(10)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        with pytest.raises(ConnectionError, match="timed out"):
            NetPolicy().resolve("slow.example", 80, timeout_s=0.2)
    finally:
        release.set()
