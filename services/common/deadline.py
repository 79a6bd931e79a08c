"""One total deadline per HTTP exchange (an ingestor fetch, a webhook delivery), enforced on
every socket operation.

httpx only has per-operation timeouts: a server that trickles its status line or headers a
byte at a time never trips them. The HTTP transport's network backend is wrapped so every
connect, TLS handshake, read and write waits at most until the deadline of the fetch that is
running in this thread (a context variable), and fails at once when it has passed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

_CURRENT: ContextVar[Deadline | None] = ContextVar("cwatch_fetch_deadline", default=None)


@dataclass
class Deadline:
    at: float  # time.monotonic() value
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def clamp(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """The client's per-operation timeouts, none longer than what is left."""
        left = max(self.remaining(), 0.001)

        def cap(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cap(timeout.connect),
            read=cap(timeout.read),
            write=cap(timeout.write),
            pool=cap(timeout.pool),
        )

    @contextmanager
    def active(self) -> Iterator[Deadline]:
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _CURRENT.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise error("the total timeout of this fetch has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # httpcore's write loops over send() with one timeout for every call, so a peer taking
        # a few bytes at a time could stretch it; here each send() is re-bounded.
        sock = self._inner.get_extra_info("socket")
        if sock is None or self._inner.get_extra_info("ssl_object") is not None:
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
            return
        try:
            while buffer:
                sock.settimeout(_bounded(timeout, httpcore.WriteTimeout))
                buffer = buffer[sock.send(buffer) :]
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(
            ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host,
            port,
            _bounded(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _bounded(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadline_backend(transport: httpx.HTTPTransport) -> None:
    """Wrap the transport's network backend (httpx has no public hook for it)."""
    pool = transport._pool  # noqa: SLF001
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        raise RuntimeError("this httpx/httpcore version has no network backend to wrap")
    if not isinstance(backend, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(backend)  # noqa: SLF001


def deadline_transport(limits: httpx.Limits | None = None) -> httpx.HTTPTransport:
    """httpx's own transport, deadline-aware, never reading proxy variables or .netrc."""
    transport = httpx.HTTPTransport(trust_env=False, limits=limits or httpx.Limits())
    install_deadline_backend(transport)
    return transport


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Socket operations inside the block end by `seconds` from now."""
    with Deadline(time.monotonic() + seconds).active() as active:
        yield active
