"""Browser fixtures: Debian's chromium driven by playwright (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.alerts.settings import AlertsSettings
from services.api.app import create_app
from services.common.auth.credentials import Kind
from services.common.auth.models import User
from services.common.auth.roles import Role
from services.search.settings import SearchSettings
from tests.alerts.conftest import (  # noqa: F401  (fixtures shared with the alerts tests)
    alerts_settings,
    index_reports,
    report_alias,
    serve,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> Path:
    """Debian's chromium; a new machine gets it installed here (as root), CI included."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`) "
            "for the browser tests; playwright's own browser downloads are not used",
            pytrace=False,
        )
    env = {**os.environ.copy(), "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium"]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        # A new machine has no package lists yet.
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        result = subprocess.run(install, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            pytest.fail(f"could not install chromium: {result.stderr[-1500:]}", pytrace=False)
    return CHROMIUM


# Package scope: playwright's sync API keeps an event loop running on this thread while the
# browser is open; left open for the session, it broke every later test that runs asyncio.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install playwright", pytrace=False)
    executable = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def ui_server(alerts_settings: AlertsSettings, es_client, topics) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The API and UI on loopback, nobody logged in: (base URL, the app)."""
    settings = SearchSettings(
        namespace=alerts_settings.namespace,
        kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
        elasticsearch_url=alerts_settings.elasticsearch_url,
    )
    app = create_app(settings, es_client, alerts_settings)
    with serve(app) as url:
        yield url, app
    app.state.alerts.hub.stop()


def log_in(page, url: str, app: Any, role: Role = Role.VIEWER) -> None:  # type: ignore[no-untyped-def]
    """`page` logged in to the API at `url` as a user of `role` (a session cookie, as after
    login)."""
    accounts = app.state.accounts
    name = f"web-{role.value}"
    accounts.store.create_user(User(name=name, role=role))  # False when it exists
    session = accounts.issue(Kind.SESSION, name, timedelta(hours=1))
    page.context.add_cookies([{"name": "cwatch_session", "value": session.text, "url": url}])


@pytest.fixture
def ui(ui_server: tuple[str, Any], page) -> str:  # type: ignore[no-untyped-def]
    """The UI's base URL, with `page` logged in as a viewer (a session cookie, as after login)."""
    url, app = ui_server
    log_in(page, url, app)
    return url
