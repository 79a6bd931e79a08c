"""SSRF guard: user-given URLs may only reach public addresses unless settings allow more.

An address is judged by what it reaches: IPv6 forms that carry an IPv4 address (mapped,
compatible, 6to4, Teredo, NAT64) are judged by that IPv4 address, and anything that is not
a global unicast address is refused by default. Refusal messages never name a resolved
address (it would tell a caller what our internal network looks like), only the host given.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints are refused even when private networks are allowed.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("192.0.0.192"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
# What allow_private opens: RFC 1918, shared address space (CGNAT), unique local, and the
# deprecated site-local range that some networks still route internally.
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
) + tuple(ipaddress.ip_network(n) for n in ("fc00::/7", "fec0::/10"))
# Special-purpose ranges (IANA registries) that Python's is_global does not know about in
# every supported version; refused whatever the settings say.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "::/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_DNS_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="netguard-dns")


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


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address delivers to, or None when it embeds none."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the relay server and the (de-obfuscated) client
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


@dataclass(frozen=True)
class NetPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ip may not be reached ('a loopback address'...), or None when it may."""
        if isinstance(ip, ipaddress.IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                for v4 in inner:
                    why = self.refusal(v4)
                    if why:
                        return why
                # ::a.b.c.d is deprecated and never routed on purpose
                compatible = ip in _COMPATIBLE and ip.ipv4_mapped is None
                return "a non-routable address" if compatible else None
        if ip in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if ip.is_loopback:
            return None if self.allow_loopback else "a loopback address"
        if ip.is_unspecified or ip.is_multicast or any(ip in n for n in _NOT_GLOBAL):
            return "a non-routable address"
        if ip.is_link_local:
            return None if self.allow_private else "a link-local address"
        if any(ip in n for n in _PRIVATE):
            return None if self.allow_private else "a private address"
        if ip.is_reserved or not ip.is_global:
            return "a non-public address"
        return None

    def check_ip(self, ip: IPAddress) -> None:
        why = self.refusal(ip)
        if why:
            raise BlockedAddress(f"the address is {why}")

    def resolve(self, host: str, port: int, timeout_s: float | None = None) -> list[IPAddress]:
        """Every address of host, each checked; the caller connects to one of these only.
        With timeout_s, a resolver slower than that is a ConnectionError."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            why = self.refusal(literal)
            if why:
                raise BlockedAddress(f"{host} is {why}")
            return [literal]
        infos = _getaddrinfo(host, port, timeout_s)
        addresses: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            why = self.refusal(ip)  # one bad answer taints the name (DNS rebinding)
            if why:
                raise BlockedAddress(f"{host} resolves to {why}")
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise ConnectionError(f"cannot resolve {host}: no address")
        return addresses

    def check_url(self, url: str, timeout_s: float | None = None) -> list[IPAddress]:
        try:
            check_url_text(url)
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:  # UnsafeURL, bad port, bad IPv6 literal
            raise BlockedAddress(f"unusable URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlockedAddress(f"only http(s) URLs are fetched: {url[:200]!r}")
        port = port or (443 if parts.scheme == "https" else 80)
        return self.resolve(parts.hostname, port, timeout_s)


def _getaddrinfo(host: str, port: int, timeout_s: float | None) -> list[Any]:
    def lookup() -> list[Any]:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    try:
        if timeout_s is None:
            return lookup()
        # getaddrinfo has no timeout of its own; the worker is abandoned, not the caller.
        return _DNS_POOL.submit(lookup).result(timeout=max(timeout_s, 0.001))
    except FutureTimeout as exc:
        raise ConnectionError(f"cannot resolve {host}: timed out") from exc
    except (OSError, UnicodeError, ValueError) as exc:  # gaierror; an over-long IDNA label
        raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
