"""Hostile webhook receivers on loopback: each delivery attempt is bounded in time and in the
bytes it reads, whatever the receiver does (issue 13). No Kafka or Elasticsearch: the mark
only lets these tests open loopback sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from services.alerts.delivery import WebhookSender
from services.alerts.models import Channel, Subscription
from services.common.netguard import NetPolicy
from tests.support import Receiver

pytestmark = pytest.mark.integration

Answer = Callable[[socket.socket], None]


@contextmanager
def raw_receiver(answer: Answer) -> Iterator[str]:
    """A loopback HTTP endpoint that reads the request head and body, then runs `answer`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            try:
                answer(conn)
            except OSError:  # the sender hung up: what the tests want
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        server.close()


def _sub(url: str) -> Subscription:
    return Subscription(id="s1", channel=Channel(kind="webhook", url=url, secret="s" * 20))


ALERT = Alert(
    alert_id="a1",
    subscription_id="s1",
    report_ids=["r1"],
    story_id="st",
    count=1,
    matched_at=datetime(2026, 11, 23, tzinfo=UTC),
)


def _sender(letters: list[DeadLetter], **kwargs: Any) -> WebhookSender:
    return WebhookSender(
        NetPolicy(allow_loopback=True),
        log_delivery=lambda *args: None,
        dead_letter=letters.append,
        max_attempts=1,
        **kwargs,
    )


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_receiver_is_cut_off_at_the_total_deadline(phase: str) -> None:
    """1 byte every 0.1 s never trips a 1 s read timeout; the 1.5 s deadline stops it."""

    def trickle(conn: socket.socket) -> None:
        if phase == "body":
            conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 400\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(400):  # 40 s in all
            conn.sendall(b"a")
            time.sleep(0.1)

    letters: list[DeadLetter] = []
    with raw_receiver(trickle) as url:
        sender = _sender(letters, timeout_s=1.0, deadline_s=1.5)
        started = time.monotonic()
        outcome = sender.deliver(_sub(url), ALERT)
        elapsed = time.monotonic() - started
        sender.close()
    assert elapsed < 6, f"held {elapsed:.1f} s past a 1.5 s deadline"
    assert not outcome.delivered and len(letters) == 1
    if phase == "headers":
        assert "Timeout" in (outcome.error or "")
    else:
        assert outcome.status == 500  # the status counts; the trickled body is not awaited


def test_a_huge_answer_is_not_read_beyond_the_cap() -> None:
    sent = [0]
    total = 64 * 1024 * 1024

    def flood(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        chunk = b"x" * 65536
        while sent[0] < total:
            conn.sendall(chunk)
            sent[0] += len(chunk)

    letters: list[DeadLetter] = []
    with raw_receiver(flood) as url:
        sender = _sender(letters, deadline_s=30.0, max_response_bytes=64 * 1024)
        outcome = sender.deliver(_sub(url), ALERT)
        sender.close()
        time.sleep(0.2)  # the receiver notices the closed connection
    assert outcome.delivered and outcome.status == 200
    # What the receiver managed to send is what was read plus the loopback socket buffers.
    assert sent[0] < 24 * 1024 * 1024, f"{sent[0] >> 20} MiB taken from the receiver"


def test_the_webhook_client_ignores_proxy_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hook = Receiver()
    letters: list[DeadLetter] = []
    try:
        sender = _sender(letters)
        outcome = sender.deliver(_sub(hook.url), ALERT)
        sender.close()
    finally:
        hook.close()
    assert outcome.delivered, outcome.error


def test_a_receiver_reading_the_request_slowly_is_cut_off_at_the_total_deadline() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def sip() -> None:  # 64 KiB every 20 ms: the sender is never blocked for a whole timeout
        conn, _ = server.accept()
        with conn:
            while not stop.is_set():
                try:
                    if not conn.recv(65536):
                        return
                except OSError:
                    return
                time.sleep(0.02)

    threading.Thread(target=sip, daemon=True).start()
    big = ALERT.model_copy(update={"headline": "x" * (32 * 1024 * 1024)})
    letters: list[DeadLetter] = []
    sender = _sender(letters, timeout_s=1.0, deadline_s=1.5)
    try:
        started = time.monotonic()
        outcome = sender.deliver(_sub(f"http://127.0.0.1:{server.getsockname()[1]}/"), big)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        sender.close()
        server.close()
    assert elapsed < 6, f"held {elapsed:.1f} s past a 1.5 s deadline"
    assert not outcome.delivered and "Timeout" in (outcome.error or "")
