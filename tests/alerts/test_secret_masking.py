"""A Slack-style webhook URL is its receiver's bearer secret: a failing delivery must leave it
in no delivery log, dead letter or log line (issue 15)."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from services.alerts.delivery import WebhookSender
from services.alerts.models import Channel, Subscription
from services.common.dlq import encode
from services.common.logs import JsonFormatter
from services.common.netguard import NetPolicy

TOKEN = "XyZsecretTOKEN0123456789"
PATH = f"/services/T0AAAAAAA/B0BBBBBBB/{TOKEN}"
SECRET = "hmac-key-" + "k" * 24
ALERT = Alert(
    alert_id="a1",
    subscription_id="s1",
    report_ids=["r1"],
    story_id="st",
    count=1,
    matched_at=datetime(2026, 12, 1, tzinfo=UTC),
)


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """What the services write to stderr: every record, through the JSON formatter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def _deliver(url: str, transport: httpx.BaseTransport | None = None) -> tuple[list, list, str]:  # type: ignore[type-arg]
    deliveries: list[tuple[Any, ...]] = []
    letters: list[DeadLetter] = []
    sender = WebhookSender(
        NetPolicy(allow_loopback=True),
        log_delivery=lambda *args: deliveries.append(args),
        dead_letter=letters.append,
        max_attempts=2,
        sleep=lambda s: None,
        transport=transport,
    )
    sub = Subscription(id="s1", channel=Channel(kind="webhook", url=url, secret=SECRET))
    with captured_logs() as logs:
        try:
            outcome = sender.deliver(sub, ALERT)
        finally:
            sender.close()
    assert not outcome.delivered
    return deliveries, letters, logs.getvalue()


def _assert_no_secret(deliveries: list, letters: list[DeadLetter], logs: str) -> None:  # type: ignore[type-arg]
    texts = [repr(d) for d in deliveries] + [encode(x).decode() for x in letters] + [logs]
    for text in texts:
        assert TOKEN not in text and SECRET not in text, text
    [letter] = letters
    assert "/***" in letter.reason


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError,  # an error text that quotes the request URL
        RuntimeError,  # an unexpected one: logged with its traceback
    ],
)
def test_an_error_quoting_the_url_reaches_no_log_or_dead_letter(failure: type) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure(f"cannot post to {request.url} (path {request.url.path})")

    deliveries, letters, logs = _deliver(f"http://127.0.0.1:9{PATH}", httpx.MockTransport(fail))
    _assert_no_secret(deliveries, letters, logs)
    assert [d[3] for d in deliveries] == ["retried", "failed"]
    assert "127.0.0.1:9" in letters[0].reason


@contextmanager
def slack_like() -> Iterator[str]:
    """Slack's incoming-webhook contract for a revoked hook: 404 with body `no_service`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = b"no_service" if self.path.startswith("/services/") else b"not found"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_a_failing_delivery_to_a_slack_style_url_leaves_no_secret() -> None:
    with slack_like() as base:
        deliveries, letters, logs = _deliver(base + PATH)
    _assert_no_secret(deliveries, letters, logs)
    assert letters[0].reason.startswith(f"webhook {base}/*** failed after 2 attempt(s): HTTP 404")
