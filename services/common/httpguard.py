"""ASGI guards for every HTTP entry point (the API and the ingestor's push server): which Host a
request may name (DNS rebinding), where a state-changing request may come from (CSRF), how many
body bytes it may send, and how often one client may ask for something costly.

Each guard is a plain ASGI middleware that answers in words (JSON `{"detail": ...}`) and names
the setting that changes its mind. They know nothing of accounts: a request that carries an
`Authorization` header is left to whoever checks it (no browser sends one across sites without
a CORS preflight, which stays closed unless configured).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from fastapi import HTTPException
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "cwatch_session"
CSRF_COOKIE = "cwatch_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"  # the same token in a url-encoded HTML form (no script needed)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = {"", "0.0.0.0", "::"}


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                  headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, receive, send
    )


# ---- Host allow-list ---------------------------------------------------------------------------


def split_host(value: str) -> tuple[str, str]:
    """(host name, port) of a Host header or an origin's netloc: lower case, no trailing dot,
    IPv6 without brackets ("[::1]:8080" -> ("::1", "8080"))."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host.rstrip("."), port


def default_hosts(bind_host: str) -> list[str]:
    """What a server answers to when nothing is configured: its own names on this machine."""
    hosts = list(LOOPBACK_HOSTS)
    bind = split_host(bind_host)[0]
    if bind not in _WILDCARD_BINDS and bind not in hosts:
        hosts.append(bind)
    return hosts


def allowed_host_names(configured: Iterable[str], bind_host: str,
                       public_origins: Iterable[str] = ()) -> frozenset[str]:  # fmt: skip
    """The configured names (or the defaults) plus the hosts of the public origins."""
    names = [split_host(h)[0] for h in configured if h.strip()] or default_hosts(bind_host)
    names += [split_host(urlsplit(o).netloc)[0] for o in public_origins if o.strip()]
    return frozenset(names)


class HostAllowList:
    """Refuses a request whose Host header names a host this server does not serve: a page
    whose domain was rebound to 127.0.0.1 reaches the port, but names its own domain. The port
    is not compared: a request that arrived here came through the port it names."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str], setting: str) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        self.any = "*" in self.hosts
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if not host:
            await _refuse(scope, receive, send, 400, "a request needs a Host header")
            return
        if split_host(host)[0] not in self.hosts:
            detail = (
                f"host {host[:200]!r} is not served here (DNS rebinding guard): add it to "
                f"{self.setting}, or behind a reverse proxy set the public origin"
            )
            await _refuse(scope, receive, send, 421, detail)
            return
        await self.app(scope, receive, send)


# ---- CSRF --------------------------------------------------------------------------------------


def origin_netloc(origin: str) -> str | None:
    """host[:port] of an origin or URL, the scheme's default port left out; None if unusable."""
    try:
        parts = urlsplit(origin.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[parts.scheme]
    return host if port in (None, default) else f"{host}:{port}"


def _cookie(headers: Headers, name: str) -> str | None:
    # Starlette's lenient parser, as browsers: cookies ignore ports, so another app on
    # localhost may add one that http.cookies refuses, and with it every other cookie.
    return cookie_parser(headers.get("cookie", "")).get(name) or None


def _is_form(headers: Headers) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == (
        "application/x-www-form-urlencoded"
    )


async def _form_field(receive: Receive, name: str) -> tuple[str | None, Receive]:
    """The field `name` of a url-encoded body, and a receive that replays the body to the app.
    The body is read whole: BodyLimit, outside this guard, bounds it."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return (values[0] if values else None), replay


class CsrfGuard:
    """A state-changing request (POST, PUT, PATCH, DELETE) not authenticated by an
    `Authorization` header must come from a trusted origin (its `Origin`, or `Referer` when the
    browser sent no Origin) and, with `require_token`, carry header X-CSRF-Token equal to the
    cwatch_csrf cookie, or an url-encoded form field csrf_token equal to it (double submit: a
    page of another origin can neither read the cookie nor set the header, and cannot put
    the value in a form). The cookie is set, random, on any answer to a request that
    had none. Trusted: the origin whose host:port is the request's Host, and `trusted_origins`.

    Without `require_token` (a server no browser logs into, the ingestor's push) only a foreign
    Origin or Referer is refused; a request without either (a script) passes.

    `session_cookie`: when set, the token is required only of requests that carry that cookie
    (a browser with a session, the one thing a forged request can abuse); a request with no
    credential at all is refused only for a foreign Origin (login CSRF) and otherwise reaches
    the route, which answers 401.

    `exempt`: path patterns whose requests carry their own credential in the URL (an email's
    signed unsubscribe link, posted by mail clients without Origin or cookie, RFC 8058): a
    forged request cannot know it, so the origin and token checks do not apply."""

    def __init__(self, app: ASGIApp, trusted_origins: Iterable[str] = (),
                 require_token: bool = True, setting: str = "",
                 exempt: Iterable[str] = (), session_cookie: str | None = None) -> None:  # fmt: skip
        self.app = app
        self.session_cookie = session_cookie
        self.exempt = [re.compile(p) for p in exempt]
        self.trusted = frozenset(n for o in trusted_origins if (n := origin_netloc(o)))
        self.require_token = require_token
        self.setting = setting

    def _origin_problem(self, headers: Headers, strict: bool) -> str | None:
        origin = headers.get("origin")
        if origin is None or origin == "null":
            referer = headers.get("referer")
            if origin == "null" or (referer is None and strict):
                return (
                    "a state-changing request from a browser must name its origin (Origin or "
                    "Referer header); scripts authenticate with an Authorization header"
                )
            if referer is None:
                return None
            origin = referer
        netloc = origin_netloc(origin)
        host = headers.get("host", "").strip().lower()
        if netloc is not None and (netloc == host or netloc in self.trusted):
            return None
        where = f" (add it to {self.setting})" if self.setting else ""
        return f"cross-origin request refused: origin {origin[:200]!r} is not trusted{where}"

    @staticmethod
    def _token_problem(headers: Headers, sent: str | None) -> str | None:
        cookie = _cookie(headers, CSRF_COOKIE)
        if cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode()):
            return None
        return (
            f"CSRF token missing or wrong: send header {CSRF_HEADER} (or, in an HTML form, "
            f"the field {CSRF_FORM_FIELD}) with the value of the {CSRF_COOKIE} cookie"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        exempt = any(p.match(scope.get("path", "")) for p in self.exempt)
        if scope["method"] in UNSAFE_METHODS and "authorization" not in headers and not exempt:
            strict = self.require_token and (
                self.session_cookie is None or _cookie(headers, self.session_cookie) is not None
            )
            problem = self._origin_problem(headers, strict)
            if problem is None and strict:
                sent = headers.get(CSRF_HEADER)
                if sent is None and _is_form(headers):
                    sent, receive = await _form_field(receive, CSRF_FORM_FIELD)
                problem = self._token_problem(headers, sent)
            if problem is not None:
                await _refuse(scope, receive, send, 403, problem)
                return
        if not self.require_token or _cookie(headers, CSRF_COOKIE):
            await self.app(scope, receive, send)
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        set_cookie = (
            f"{CSRF_COOKIE}={secrets.token_urlsafe(32)}; Path=/; SameSite=Strict{secure}"
        ).encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# ---- body size ---------------------------------------------------------------------------------


def _too_large(limit: int, setting: str) -> str:
    return f"request body too large: at most {limit} bytes here ({setting})"


class BodyLimit:
    """At most `limit` body bytes per request, `overrides` (path prefix -> (bytes, setting))
    where a larger body is legitimate, or None for a route that counts its own body under its
    own limit and explains it (the ingestor's push). A declared Content-Length over the limit is refused before anything is
    read; a chunked body is counted as it streams, and the read that crosses the limit raises
    a 413 (FastAPI's HTTPException, which FastAPI's body parsing lets through and Starlette
    turns into the answer; an app that lets it escape gets the 413 from here, if it had not
    started answering)."""

    def __init__(self, app: ASGIApp, limit: int, setting: str,
                 overrides: Mapping[str, tuple[int, str] | None] | None = None) -> None:  # fmt: skip
        self.app = app
        self.limit = limit
        self.setting = setting
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit_for(self, path: str) -> tuple[int, str] | None:
        """(bytes, setting); None for a route that reads its body under its own limit."""
        for prefix, rule in self.overrides:
            if path.startswith(prefix):
                return rule
        return self.limit, self.setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._limit_for(scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        limit, setting = rule
        declared = Headers(scope=scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, 413, _too_large(limit, setting))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail=_too_large(limit, setting))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await _refuse(scope, receive, send, 413, str(exc.detail))


# ---- rate limits -------------------------------------------------------------------------------


def client_key(scope: Scope) -> str:
    """Who is asking: the bearer token or the session cookie when there is one (hashed: the
    limiter's memory never holds a credential), else the client address."""
    headers = Headers(scope=scope)
    scheme, _, token = headers.get("authorization", "").partition(" ")
    credential = token.strip() if scheme.lower() == "bearer" else ""
    kind = "token"
    if not credential:
        credential, kind = _cookie(headers, SESSION_COOKIE) or "", "session"
    if credential:
        return f"{kind}:{hashlib.sha256(credential.encode()).hexdigest()[:32]}"
    return address_key(scope)


def address_key(scope: Scope) -> str:
    """The client address alone: for requests whose credential the client makes up (a login's
    guesses; a made-up bearer token per request must not get a fresh limit each time)."""
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


def check_rate(value: str) -> str:
    """The rate unchanged when `limits` reads it ("120/minute", "10 per second"), else
    ValueError: for the settings validators."""
    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate such as '120/minute': {exc}") from None
    return value


@dataclass(frozen=True)
class RateRule:
    """One costly thing: the paths (regular expressions, matched from the start) and methods it
    covers, how many requests one client may make per window, and optionally how many of them
    may be open at once (long-lived streams)."""

    name: str
    paths: Sequence[str]
    rate: str
    setting: str
    methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
    concurrent: int | None = None
    concurrent_setting: str = ""
    by_address: bool = False  # count per client address, whatever credential is sent
    item: RateLimitItem = field(init=False, repr=False, compare=False)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", parse(check_rate(self.rate)))
        object.__setattr__(self, "pattern", re.compile("|".join(f"(?:{p})" for p in self.paths)))

    def covers(self, method: str, path: str) -> bool:
        return method in self.methods and self.pattern.match(path) is not None


class RateLimit:
    """Per-client limits (moving window, the `limits` library, in this process's memory) on
    the rules' paths: over the rate, 429 with Retry-After; over the concurrent cap, 429 until a
    stream closes."""

    def __init__(self, app: ASGIApp, rules: Sequence[RateRule]) -> None:
        self.app = app
        self.rules = list(rules)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.open: dict[tuple[str, str], int] = {}

    def _retry_after(self, rule: RateRule, key: str) -> int:
        reset, _ = self.limiter.get_window_stats(rule.item, rule.name, key)
        return max(1, math.ceil(reset - time.time()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = [r for r in self.rules if r.covers(scope["method"], scope["path"])]
        if not rules:
            await self.app(scope, receive, send)
            return
        keys = {r.name: address_key(scope) if r.by_address else client_key(scope) for r in rules}
        for rule in rules:
            key = keys[rule.name]
            if (
                rule.concurrent is not None
                and self.open.get((rule.name, key), 0) >= rule.concurrent
            ):
                detail = (
                    f"too many open {rule.name} connections for this client: at most "
                    f"{rule.concurrent} ({rule.concurrent_setting}); close one first"
                )
                await _refuse(scope, receive, send, 429, detail, {"Retry-After": "5"})
                return
            if not self.limiter.hit(rule.item, rule.name, key):
                detail = f"too many {rule.name} requests: at most {rule.rate} ({rule.setting})"
                retry = str(self._retry_after(rule, key))
                await _refuse(scope, receive, send, 429, detail, {"Retry-After": retry})
                return
        counted = [(r.name, keys[r.name]) for r in rules if r.concurrent is not None]
        for slot in counted:
            self.open[slot] = self.open.get(slot, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            for slot in counted:
                left = self.open.get(slot, 1) - 1
                if left > 0:
                    self.open[slot] = left
                else:
                    self.open.pop(slot, None)
