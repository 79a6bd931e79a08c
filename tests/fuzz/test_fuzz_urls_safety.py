"""Properties of URL safety: the text check every URL entry point runs (check_url_text), the
SSRF policy (NetPolicy) on address literals, and webhook subscription validation: a URL that is
accepted must be one the HTTP client can send to."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.alerts.models import Channel
from services.common.netguard import (
    MAX_URL_CHARS,
    BlockedAddress,
    NetPolicy,
    UnsafeURL,
    check_url_text,
)
from tests.fuzz.budget import Budget
from tests.fuzz.strategies import CONTROL, urls

budget = Budget(seconds=2.0, megabytes=200.0)


@given(urls)
def test_url_text_check_passes_only_clean_urls(url: str) -> None:
    with budget(url):
        try:
            same = check_url_text(url)
        except UnsafeURL:
            return
    assert same == url
    assert len(url) <= MAX_URL_CHARS
    assert not any(ch in url for ch in CONTROL if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F)


def _literal_urls(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return [f"http://{host}/", f"https://{host}:8443/x?y=1"]


@given(st.ip_addresses())
def test_policy_on_literals_refuses_or_allows_without_other_errors(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    policy = NetPolicy()
    for url in _literal_urls(ip):
        with budget(url):
            try:
                addresses = policy.check_url(url)
            except BlockedAddress:
                continue
        assert addresses and all(a.is_global for a in addresses), (url, addresses)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    inside = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    return [a for a in inside if a is not None]


@given(
    st.one_of(
        st.ip_addresses(v=4)
        .filter(lambda a: not a.is_global)
        .map(lambda a: ipaddress.IPv6Address(f"2002:{int(a) >> 16:04x}:{int(a) & 0xFFFF:04x}::")),
        st.sampled_from(["fec0::1", "192.0.0.192", "2002:a9fe:a9fe::"]).map(ipaddress.ip_address),
    )
)
@example(ipaddress.ip_address("2002:7f00:1::"))
def test_default_policy_refuses_every_non_public_address(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    with pytest.raises(BlockedAddress):
        NetPolicy().check_ip(ip)


def _fake_dns(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """No network in unit tests: names under .org resolve to one public and, for "rebind", one
    loopback address; every other name does not resolve."""
    if not str(host).endswith(".org"):
        raise socket.gaierror(socket.EAI_NONAME, "no such name")
    answers = [("93.184.216.34", port)]
    if "rebind" in str(host):
        answers.append(("127.0.0.1", port))
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answers]


@given(st.one_of(urls, st.sampled_from(["http://rebind.example.org/", "https://example.org/"])))
def test_policy_check_url_raises_only_blocked_address(url: str) -> None:
    """http.py turns BlockedAddress and ConnectionError into a fetch error; anything else
    escapes the fetch (a feed aborted, a push answered 500): nothing else may escape, not even
    urlsplit's ValueError (a bad IPv6 literal or port)."""
    try:
        with mock.patch("socket.getaddrinfo", _fake_dns):
            addresses = NetPolicy().check_url(url)
        assert all(a.is_global for a in addresses), addresses
    except (BlockedAddress, ConnectionError):
        pass


@given(st.sampled_from(["http://[::1/", "http://example.org:99999/", "http://a.org:x/"]))
def test_unusable_urls_are_blocked_addresses(url: str) -> None:
    with pytest.raises(BlockedAddress), mock.patch("socket.getaddrinfo", _fake_dns):
        NetPolicy().check_url(url)


WEBHOOK_KNOWN = (
    "http://example.org/\u0001",
    "https://example.org/a\u007fb",
    "http://a.org:99999/",
    "http://a.org:x/",
    "http://\u00d7/",
)


@given(urls)
def test_accepted_webhook_urls_are_sendable(url: str) -> None:
    with budget(url):
        try:
            channel = Channel(kind="webhook", url=url)
        except ValidationError:
            return
    httpx.Request("POST", channel.url or "")  # what delivery does; InvalidURL would kill it


@given(st.sampled_from(WEBHOOK_KNOWN))
def test_webhook_urls_with_control_characters_are_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        Channel(kind="webhook", url=url)
