"""SSRF guard: user-given URLs may only reach public addresses unless settings allow more."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints are refused even when private networks are allowed.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class BlockedAddress(Exception):
    """The URL resolves to an address the settings do not allow."""


class UnsafeURL(ValueError):
    """The URL's text itself is unusable: control characters, no host, too long."""


MAX_URL_CHARS = 4096


def check_url_text(url: str, *, max_chars: int = MAX_URL_CHARS) -> str:
    """The URL unchanged when its text is safe to hand to an HTTP client, else UnsafeURL.

    httpx raises InvalidURL (not an HTTPError) on control characters at request time, so every
    place a URL enters (feeds, sitemaps, pushes, webhooks) checks it here first, once.
    """
    if len(url) > max_chars:
        raise UnsafeURL(f"URL longer than {max_chars} characters")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        raise UnsafeURL("URL contains a control character")
    return url


@dataclass(frozen=True)
class NetPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    def check_ip(self, ip: IPAddress) -> None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip in METADATA_ADDRESSES:
            raise BlockedAddress(f"{ip} is a cloud metadata address")
        if ip.is_loopback:
            if not self.allow_loopback:
                raise BlockedAddress(f"{ip} is a loopback address")
            return
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            raise BlockedAddress(f"{ip} is not a routable unicast address")
        if ip.is_link_local:
            if not self.allow_private:
                raise BlockedAddress(f"{ip} is a link-local address")
            return
        if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
            if not self.allow_private:
                raise BlockedAddress(f"{ip} is a private address")

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of host, each checked; the caller connects to one of these only."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check_ip(literal)
            return [literal]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0])
            self.check_ip(ip)  # one bad answer taints the name (DNS rebinding)
            if ip not in addresses:
                addresses.append(ip)
        return addresses

    def check_url(self, url: str) -> list[IPAddress]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlockedAddress(f"only http(s) URLs are fetched: {url[:200]!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return self.resolve(parts.hostname, port)
