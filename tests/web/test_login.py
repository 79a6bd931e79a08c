"""Accounts in the browser: log in through the page, work, log out, and the page (and the API
with the old cookie) refuse access afterwards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from services.common.auth.roles import Role

pytestmark = pytest.mark.browser
TIMEOUT_MS = 30_000
PASSWORD = "a long enough password"


def test_log_in_create_a_subscription_log_out_and_the_ui_refuses_access(
    ui_server: tuple[str, Any], page
) -> None:  # type: ignore[no-untyped-def]
    url, app = ui_server
    app.state.accounts.create_user("alice", Role.VIEWER, PASSWORD, "tests")

    page.goto(f"{url}/ui/#/subscriptions")
    expect(page.locator("#view-login")).to_be_visible(timeout=TIMEOUT_MS)
    assert page.locator("#view-subscriptions").is_hidden()

    page.fill("#login-user", "alice")
    page.fill("#login-password", "wrong password here")
    page.click("#login-submit")
    expect(page.locator("#error")).to_contain_text("wrong user name or password")

    page.fill("#login-user", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_text("alice (viewer)", timeout=TIMEOUT_MS)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["cwatch_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("cwatch_session") == -1  # not readable

    page.goto(f"{url}/ui/#/subscriptions")
    page.fill("#q", "Lachin")
    page.fill("#sub-name", "Lachin watch")
    page.click("#sub-create")
    row = page.locator("#sub-table tbody tr", has_text="Lachin watch")
    expect(row).to_have_count(1, timeout=TIMEOUT_MS)
    [sub] = app.state.alerts.store.list_subscriptions()
    assert sub.owner == "alice"

    page.click("#logout")
    expect(page.locator("#view-login")).to_be_visible(timeout=TIMEOUT_MS)
    # A new tab of the same browser: going to the URL the logged-out page is already at raced
    # the UI's own navigation there ("interrupted by another navigation", a fresh-clone run).
    fresh = page.context.new_page()
    fresh.goto(f"{url}/ui/#/subscriptions")
    expect(fresh.locator("#view-login")).to_be_visible(timeout=TIMEOUT_MS)
    assert fresh.locator("#sub-table tbody tr").count() == 0
    # The old cookie is dead on the server too, not only forgotten by the browser.
    old = httpx.get(
        f"{url}/v1/subscriptions", cookies={"cwatch_session": session["value"]}, timeout=10
    )
    assert old.status_code == 401
    assert page.errors == []


def test_a_one_time_login_link_logs_in_once(ui_server: tuple[str, Any], page) -> None:  # type: ignore[no-untyped-def]
    url, app = ui_server
    accounts = app.state.accounts
    accounts.create_user("bob", Role.EDITOR, None, "tests")
    link = accounts.login_link("bob", "tests")
    page.goto(f"{url}/ui/#login={link.text}")
    expect(page.locator("#who")).to_have_text("bob (editor)", timeout=TIMEOUT_MS)
    assert link.text not in page.url  # the fragment is gone from the address bar and history
    page.fill("#pw-new", PASSWORD)
    page.click("#password-form button")
    expect(page.locator("#pw-done")).to_be_visible(timeout=TIMEOUT_MS)
    again = httpx.post(f"{url}/v1/auth/login", json={"link": link.text}, timeout=10)
    assert again.status_code == 401

    # A personal API token, made and revoked in the page.
    page.fill("#token-label", "feed reader")
    page.click("#token-form button")
    expect(page.locator("#token-new")).to_contain_text("cwt_", timeout=TIMEOUT_MS)
    token = page.locator("#token-new").inner_text().split(": ")[-1].strip()
    me = httpx.get(f"{url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.json()["user"] == "bob"
    row = page.locator("#token-table tbody tr", has_text="feed reader")
    row.locator("button").click()
    expect(row).to_contain_text("revoked", timeout=TIMEOUT_MS)
    gone = httpx.get(f"{url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 401
    assert page.errors == []
