"""CSRF in a real browser: the API's own page changes a subscription; a page of another origin
that posts a form to the API (with the victim's cookies, when same-site) is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.support import as_page_of
from tests.web.test_browser import TIMEOUT_MS, _create_sse_subscription

pytestmark = pytest.mark.browser


@contextmanager
def attacker_site(host: str, action: str) -> Iterator[str]:
    """A page on another loopback origin whose form posts to `action`."""
    page = (
        "<!doctype html><title>win a prize</title>"
        f'<form method="post" action="{action}"><input name="x" value="1">'
        '<button id="go" type="submit">claim</button></form>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _active(ui: str, sub_id: str, page) -> bool:  # type: ignore[no-untyped-def]
    """Asked with the page's own session (the subscription is its user's)."""
    session = {c["name"]: c["value"] for c in page.context.cookies(ui)}["cwatch_session"]
    with as_page_of(httpx.Client(base_url=ui, timeout=10)) as api:
        api.cookies.set("cwatch_session", session)
        return bool(api.get(f"/v1/subscriptions/{sub_id}").json()["active"])


# 127.0.0.1 on another port: cross-origin but same-site, so even SameSite=Strict cookies go
# along; localhost: another site.
@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])
def test_a_cross_site_form_post_is_refused(ui: str, page, attacker_host: str) -> None:  # type: ignore[no-untyped-def]
    row = _create_sse_subscription(page, ui, "ceasefire", f"Target from {attacker_host}")
    sub_id = row.get_attribute("data-sub-id")
    # the page itself may change it (it sends the CSRF header): pause, then resume
    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".sub-state")).to_have_text("paused", timeout=TIMEOUT_MS)
    row.get_by_role("button", name="Resume").click()
    expect(row.locator(".sub-state")).to_have_text("active", timeout=TIMEOUT_MS)
    assert page.context.cookies(ui), "the page got its cwatch_csrf cookie"

    with attacker_site(attacker_host, f"{ui}/v1/subscriptions/{sub_id}/pause") as evil:
        page.goto(evil)
        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.click("#go")
        answer = page.content()
    assert "cross-origin request refused" in answer, answer
    assert _active(ui, sub_id, page), "the cross-site post paused the subscription"
