"""The one HTTP client of the ingestor: polite (User-Agent, robots.txt, per-host limits) and
safe (one total deadline per fetch, body and decompression caps, redirect cap, content-type
check, SSRF check on every hop). Whatever goes wrong in a fetch is a FetchError, never an
exception that could stop a poll loop.

Every hop connects to the address that passed the SSRF check (the URL's host is replaced
by that IP, with Host header and TLS SNI kept), so a DNS answer cannot change in between.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import urllib.robotparser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from services.common.deadline import Deadline, install_deadline_backend
from services.common.netguard import BlockedAddress, NetPolicy, UnsafeURL, check_url_text
from services.ingestor.encoding import BinaryContent, CappedDecoder, TooLarge
from services.ingestor.metrics import FETCH_SECONDS
from services.ingestor.settings import IngestorSettings

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
XML_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
    "text/plain",
    "text/html",  # many servers label feeds as HTML; the parser decides
    "application/octet-stream",
    "application/gzip",
    "application/x-gzip",
)
ROBOTS_TTL_S = 3600.0


class FetchError(Exception):
    """A fetch failed; `reason` is a short machine-friendly code used in metrics."""

    def __init__(self, reason: str, message: str, url: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    elapsed_s: float = 0.0
    not_modified: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class _HostGate:
    """At most N concurrent requests per host, and a minimum gap between request starts."""

    def __init__(self, concurrency: int, min_interval_s: float) -> None:
        self._concurrency = max(1, concurrency)
        self._interval = max(0.0, min_interval_s)
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}

    @contextmanager
    def hold(self, host: str, deadline: Deadline) -> Iterator[bool]:
        """Yields False when the deadline passes before this request may start."""
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        if not sem.acquire(timeout=deadline.remaining()):
            yield False
            return
        try:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next.get(host, 0.0))
                self._next[host] = start + self._interval
            if start - now > deadline.remaining():
                yield False
                return
            if start > now:
                time.sleep(start - now)
            yield True
        finally:
            sem.release()


def _parse_content_type(value: str) -> tuple[str, str | None]:
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return mime.strip().lower(), charset


def _pinned(url: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    parts = urlsplit(url)
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class SafeHttpClient:
    def __init__(
        self, settings: IngestorSettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.policy = NetPolicy(settings.allow_loopback, settings.allow_private)
        if transport is None:
            transport = httpx.HTTPTransport()
            install_deadline_backend(transport)  # connect, TLS, headers, body: one deadline
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                settings.http_read_timeout_s, connect=settings.http_connect_timeout_s
            ),
            follow_redirects=False,
            transport=transport,
            trust_env=False,  # a proxy would connect on our behalf, past the SSRF check
            # Decoded by hand under the body cap (CappedDecoder), never by httpx.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._gate = _HostGate(
            settings.http_per_host_concurrency, settings.http_per_host_min_interval_s
        )
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser | None, float]] = {}
        self._robots_lock = threading.Lock()
        self._ua_token = settings.user_agent.split("/")[0]

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        accept: tuple[str, ...] | None = None,
        kind: str = "page",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET with redirects followed by hand, each hop checked, everything (DNS, robots.txt,
        connect, TLS, headers, body, redirects) under one total deadline. Raises FetchError
        and nothing else."""
        started = time.monotonic()
        deadline = Deadline(started + self.settings.http_total_timeout_s)
        try:
            with deadline.active():
                return self._get(url, accept, etag, last_modified, deadline)
        except FetchError:
            raise
        except Exception as exc:  # a client bug or an input no check foresaw: still one item
            log.warning(
                "fetch failed unexpectedly", extra={"url": url[:500], "error": repr(exc)[:500]}
            )
            raise FetchError(
                "fetch_error", f"cannot fetch {url[:500]}: {type(exc).__name__}", url
            ) from exc
        finally:
            FETCH_SECONDS.labels(kind).observe(time.monotonic() - started)

    def _get(
        self,
        url: str,
        accept: tuple[str, ...] | None,
        etag: str | None,
        last_modified: str | None,
        deadline: Deadline,
    ) -> FetchResult:
        current = url
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        for _hop in range(self.settings.http_max_redirects + 1):
            _check_text(current)
            self._check(current, deadline)  # before robots.txt, so the error names this URL
            if self.settings.respect_robots and not self._robots_allow(current, deadline):
                raise FetchError("robots_disallowed", f"robots.txt disallows {current}", current)
            status, headers, body = self._one_hop(current, conditional, accept, deadline)
            if status in REDIRECT_STATUSES and headers.get("location"):
                current = urljoin(current, headers["location"])
                conditional = {}
                continue
            mime, charset = _parse_content_type(headers.get("content-type", ""))
            result = FetchResult(
                url=url,
                final_url=current,
                status=status,
                body=body,
                content_type=mime,
                charset=charset,
                etag=headers.get("etag"),
                last_modified=headers.get("last-modified"),
                elapsed_s=deadline.elapsed(),
                not_modified=status == 304,
                headers=headers,
            )
            if status == 304:
                return result
            if not 200 <= status < 300:
                raise FetchError(f"http_{status}", f"HTTP {status} from {current}", current)
            return result
        raise FetchError(
            "too_many_redirects",
            f"more than {self.settings.http_max_redirects} redirects from {url}",
            url,
        )

    def _check(
        self, url: str, deadline: Deadline
    ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        if deadline.remaining() <= 0:
            raise FetchError("timeout", f"{url} took longer than the total timeout", url)
        try:
            return self.policy.check_url(url, timeout_s=deadline.remaining())
        except BlockedAddress as exc:
            raise FetchError("blocked_address", f"refused {url}: {exc}", url) from exc
        except ConnectionError as exc:
            raise FetchError("dns_error", str(exc), url) from exc

    def _one_hop(
        self,
        url: str,
        conditional: dict[str, str],
        accept: tuple[str, ...] | None,
        deadline: Deadline,
    ) -> tuple[int, dict[str, str], bytes]:
        addresses = self._check(url, deadline)
        parts = urlsplit(url)
        host = parts.hostname or ""
        host_header = parts.netloc.rsplit("@", 1)[-1]
        with self._gate.hold(host, deadline) as may_start:
            if not may_start:
                raise FetchError("timeout", f"{url} took longer than the total timeout", url)
            try:
                request = self._client.build_request(
                    "GET",
                    _pinned(url, addresses[0]),
                    headers={"Host": host_header, **conditional},
                    extensions={"sni_hostname": host} if parts.scheme == "https" else {},
                    timeout=deadline.clamp(self._client.timeout),
                )
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"timed out fetching {url}", url) from exc
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError) as exc:
                raise FetchError("connect_error", f"cannot fetch {url}: {exc}", url) from exc
            try:
                return self._read(url, response, accept, deadline)
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"timed out reading {url}", url) from exc
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise FetchError("read_error", f"error reading {url}: {exc}", url) from exc
            finally:
                response.close()

    def _read(
        self,
        url: str,
        response: httpx.Response,
        accept: tuple[str, ...] | None,
        deadline: Deadline,
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and the decoded body; raw and decoded sizes capped while reading."""
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code in REDIRECT_STATUSES or response.status_code == 304:
            return response.status_code, headers, b""
        if not 200 <= response.status_code < 300:
            return response.status_code, headers, b""
        mime, _ = _parse_content_type(headers.get("content-type", ""))
        if mime and (
            mime.startswith(BINARY_TYPES) or (accept is not None and not mime.startswith(accept))
        ):
            raise FetchError("bad_content_type", f"unexpected content type {mime} at {url}", url)
        max_bytes = self.settings.http_max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                "too_large", f"{url} declares {declared} bytes, limit {max_bytes}", url
            )
        if response.is_stream_consumed:  # in-memory transports hand over a decoded body
            if len(response.content) > max_bytes:
                raise FetchError("too_large", f"{url} body exceeds {max_bytes} bytes", url)
            return response.status_code, headers, response.content
        decoders = _decoders(headers.get("content-encoding", ""), max_bytes, url)
        chunks: list[bytes] = []
        raw_size = 0
        try:
            for raw in response.iter_raw():
                raw_size += len(raw)
                if raw_size > max_bytes:
                    raise FetchError("too_large", f"{url} body exceeds {max_bytes} bytes", url)
                if deadline.remaining() <= 0:
                    raise FetchError("timeout", f"{url} took longer than the total timeout", url)
                for decoder in decoders:
                    raw = decoder.feed(raw)
                chunks.append(raw)
            tail = b""
            for decoder in decoders:
                tail = decoder.feed(tail) + decoder.finish()
            chunks.append(tail)
        except TooLarge as exc:
            raise FetchError(
                "too_large", f"{url} body expands beyond {max_bytes} bytes", url
            ) from exc
        except BinaryContent as exc:
            raise FetchError("bad_encoding", f"{url}: {exc}", url) from exc
        return response.status_code, headers, b"".join(chunks)

    def _robots_allow(self, url: str, deadline: Deadline) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.monotonic()
        with self._robots_lock:
            cached = self._robots.get(origin)
        if cached is None or cached[1] < now:
            parser = self._load_robots(origin, deadline)
            with self._robots_lock:
                self._robots[origin] = (parser, now + ROBOTS_TTL_S)
        else:
            parser = cached[0]
        return parser is None or parser.can_fetch(self._ua_token, url)

    def _load_robots(
        self, origin: str, deadline: Deadline
    ) -> urllib.robotparser.RobotFileParser | None:
        """None means no restriction: missing robots.txt (4xx) or one we could not read.
        It is read under the deadline of the fetch that needed it."""
        robots_url = origin + "/robots.txt"
        try:
            for _hop in range(self.settings.http_max_redirects + 1):
                _check_text(robots_url)
                status, headers, body = self._one_hop(robots_url, {}, None, deadline)
                if status in REDIRECT_STATUSES and headers.get("location"):
                    robots_url = urljoin(robots_url, headers["location"])  # e.g. http -> https
                    continue
                break
        except FetchError as exc:
            if exc.reason in ("blocked_address", "timeout"):
                raise
            log.info("robots.txt unavailable, assuming allowed", extra={"url": robots_url})
            return None
        if status != 200:
            return None
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser


def _check_text(url: str) -> None:
    """Control characters (e.g. `&#127;` in a feed link or a Location header) are a
    FetchError here, not an httpx.InvalidURL later."""
    try:
        check_url_text(url)
    except UnsafeURL as exc:
        raise FetchError("invalid_url", f"unusable URL {url[:200]!r}: {exc}", url) from exc


def _decoders(content_encoding: str, max_bytes: int, url: str) -> list[CappedDecoder]:
    """Decoders in the order to apply them (the header lists them in the order applied)."""
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    try:
        return [CappedDecoder(name, max_bytes) for name in reversed(names)]
    except BinaryContent as exc:
        raise FetchError("bad_encoding", f"{url}: {exc}", url) from exc
