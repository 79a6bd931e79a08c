"""User administration in the web UI (Chromium): an admin lists, creates, re-roles, disables,
unlocks users, issues login links and revokes their tokens through the page; a viewer is not
shown the tab and the API refuses them; the page's requests carry the CSRF token, and one
without it is refused."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from services.common.auth.roles import Role
from tests.support import wait_for
from tests.web.conftest import log_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 30_000


def test_an_admin_manages_users_in_the_page(ui_server: tuple[str, Any], page) -> None:  # type: ignore[no-untyped-def]
    url, app = ui_server
    accounts = app.state.accounts
    log_in(page, url, app, Role.ADMIN)
    page.goto(f"{url}/ui/#/users")
    expect(page.locator("#nav-users")).to_be_visible(timeout=TIMEOUT_MS)
    admin_row = page.locator("#user-table tbody tr[data-user='web-admin']")
    expect(admin_row).to_have_count(1, timeout=TIMEOUT_MS)

    # Create: a one-time login link, shown once.
    page.fill("#user-name", "newbie")
    page.select_option("#user-role", "viewer")
    page.click("#user-create")
    expect(page.locator("#user-link")).to_contain_text("#login=cwl_", timeout=TIMEOUT_MS)
    row = page.locator("#user-table tbody tr[data-user='newbie']")
    expect(row).to_have_count(1, timeout=TIMEOUT_MS)
    assert accounts.found("newbie").role is Role.VIEWER

    # Change the role, disable, enable.
    row.locator("select.user-role").select_option("editor")
    wait_for(lambda: accounts.found("newbie").role is Role.EDITOR, what="the role changed")
    row.locator("button.user-toggle").click()
    expect(row.locator(".user-state")).to_have_text("disabled", timeout=TIMEOUT_MS)
    assert accounts.found("newbie").disabled
    row.locator("button.user-toggle").click()
    expect(row.locator(".user-state")).to_have_text("active", timeout=TIMEOUT_MS)

    # A fresh login link.
    first_link = page.locator("#user-link").text_content()
    row.locator("button.user-login-link").click()
    expect(page.locator("#user-link")).not_to_have_text(first_link or "", timeout=TIMEOUT_MS)
    expect(page.locator("#user-link")).to_contain_text("newbie", timeout=TIMEOUT_MS)

    # A user locked out by failed logins, unlocked from the page.
    for _ in range(app.state.settings.api_login_failures):
        with pytest.raises(Exception, match="wrong user name or password"):
            accounts.login_password("newbie", "not the password at all", 1, client="10.9.8.7")
    page.reload()
    expect(row.locator(".user-wait")).not_to_have_text("", timeout=TIMEOUT_MS)
    row.locator("button.user-unlock").click()
    expect(row.locator(".user-wait")).to_have_text("", timeout=TIMEOUT_MS)
    assert accounts.throttle.locked(["newbie"]) == {"newbie": 0.0}

    # Revoke one of the user's tokens.
    token = accounts.create_token("newbie", "tests", "a script")
    row.locator("button.user-tokens").click()
    token_row = page.locator(f"#user-token-table tbody tr[data-token-id='{token.record.id}']")
    expect(token_row.locator(".token-state")).to_have_text("active", timeout=TIMEOUT_MS)
    token_row.locator("button.user-token-revoke").click()
    expect(token_row.locator(".token-state")).to_have_text("revoked", timeout=TIMEOUT_MS)
    stored = accounts.store.credential(token.record.id)
    assert stored is not None and stored.revoked is not None

    # The same request without the CSRF token (a forged one could not know it) is refused.
    status = page.evaluate(
        """async () => (await fetch("/v1/users", {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "forged"})})).status"""
    )
    assert status == 403 and accounts.store.user("forged") is None
    actions = {e["action"] for e in accounts.store.audit_entries(target="newbie", size=100)}
    assert {"user.create", "user.update", "login_link.create", "login.unlock"} <= actions
    assert page.errors == []


def test_a_viewer_is_not_shown_user_administration_and_is_refused(
    ui_server: tuple[str, Any], page
) -> None:  # type: ignore[no-untyped-def]
    url, app = ui_server
    log_in(page, url, app, Role.VIEWER)
    page.goto(f"{url}/ui/#/users")
    expect(page.locator("#who")).to_have_text("web-viewer (viewer)", timeout=TIMEOUT_MS)
    expect(page).to_have_url(f"{url}/ui/#/live", timeout=TIMEOUT_MS)
    assert page.locator("#nav-users").is_hidden()
    assert page.locator("#view-users").is_hidden()
    assert page.locator("#user-table tbody tr").count() == 0
    status = page.evaluate(
        """async () => (await fetch("/v1/users", {credentials: "same-origin"})).status"""
    )
    assert status == 403
    assert page.errors == []
