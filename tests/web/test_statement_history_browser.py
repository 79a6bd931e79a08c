"""Statement history and source health in the web UI, in real headless Chromium against the
real API, Elasticsearch, Kafka and a real ingestor daemon on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from schemas.topics import TopicNames
from services.alerts.settings import AlertsSettings
from services.api.app import create_app
from services.common.auth.roles import Role
from services.ingestor.server import Daemon
from services.ingestor.settings import IngestorSettings
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.alerts.factories import make_report
from tests.ingestor.loopback import LoopbackServer, rss
from tests.web.conftest import log_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 30_000
NOW = datetime.now(UTC)

HOSTILE = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>"
DIFF = (
    "--- before\n+++ after\n@@ -1,2 +1,2 @@\n"
    "-Armenian forces fired on positions near Tegh.\n"
    f"+No shots were fired near Tegh. {HOSTILE}\n"
    " The ministry calls for restraint.\n" + "".join(f"+added line {i}\n" for i in range(400))
)


@pytest.fixture
def ingestor(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, alerts_settings: AlertsSettings
) -> Iterator[tuple[Daemon, str]]:
    """An ingestor daemon with a source that answers and one that fails, each polled once."""
    with LoopbackServer().running() as site:
        feed = site.add(
            "/mfa.xml",
            rss([{"title": "Statement", "link": site.url("/s/1"), "content": "<p>x</p>"}]),
            "application/rss+xml",
        )
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            f"  - {{name: Answering Ministry, url: '{feed}', country: AM, language: hy,"
            " affiliation: government, official: true}\n"
            f"  - {{name: Blocked Ministry, url: '{site.url('/gone.xml')}', country: AZ,"
            " language: az, affiliation: government}\n"
        )
        settings = IngestorSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            elasticsearch_url=alerts_settings.elasticsearch_url,  # the accounts the API uses
            namespace=topics.namespace,
            state_path=tmp_path / "state.sqlite",
            sources_file=sources,
            allow_loopback=True,
            http_per_host_min_interval_s=0.0,
            health_max_failures=1,
            fetch_linked_pages=False,
        )
        daemon = Daemon(settings)
        try:
            daemon.poller.run_due(now=float("inf"))
            with serve(daemon.app()) as url:
                yield daemon, url
        finally:
            daemon.shutdown()


@pytest.fixture
def ui_with_sources(
    alerts_settings: AlertsSettings, es_client, ingestor: tuple[Daemon, str], page
) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The UI, with `page` logged in as an editor (source health is an editor's view)."""
    settings = SearchSettings(
        namespace=alerts_settings.namespace,
        kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
        elasticsearch_url=alerts_settings.elasticsearch_url,
        api_ingestor_url=ingestor[1],
    )
    app = create_app(settings, es_client, alerts_settings)
    with serve(app) as url:
        log_in(page, url, app, Role.EDITOR)
        yield url
    app.state.alerts.hub.stop()


def test_an_edited_report_shows_its_diff_as_text_bounded_and_a_withdrawn_one_is_marked(
    ui_with_sources: str, page, index_reports
) -> None:  # type: ignore[no-untyped-def]
    edited = make_report("rep-edited", "Statement on Tegh", "No shots were fired near Tegh.")
    edited = edited.model_copy(update={"version": 2, "edited_at": NOW, "diff": DIFF})
    gone = make_report("rep-gone", "Statement on Tegh withdrawn", "Shots near Tegh.")
    gone = gone.model_copy(update={"version": 3, "edited_at": NOW, "withdrawn_at": NOW})
    index_reports([edited, gone, make_report("rep-plain", "Tegh village news", "Tegh.")])

    page.goto(f"{ui_with_sources}/ui/#/search")
    page.fill("#q", "Tegh")
    page.uncheck("#f-collapse")
    page.click("#apply")
    expect(page.locator("#search-list li")).to_have_count(3, timeout=TIMEOUT_MS)
    assert page.locator("li[data-report-id='rep-plain'] .badge.change").count() == 0
    expect(page.locator("li[data-report-id='rep-gone'] .badge.withdrawn")).to_have_text("withdrawn")
    page.select_option("#f-change", "edited,withdrawn")  # what a subscription can ask for too
    page.click("#apply")
    expect(page.locator("#search-list li")).to_have_count(2, timeout=TIMEOUT_MS)
    page.locator("li[data-report-id='rep-edited'] .badge.edited").click()

    diff = page.locator("#history .diff")
    diff.wait_for(timeout=TIMEOUT_MS)
    removed = page.locator("#history del.diff-del")
    added = page.locator("#history ins.diff-add")
    assert "Armenian forces fired on positions near Tegh." in removed.first.inner_text()
    assert HOSTILE in added.first.inner_text()  # the markup is shown as text
    assert page.locator("#history img, #history script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#history .diff-line").count() == 300  # bounded
    expect(page.locator("#history .diff-cut")).to_be_visible()
    assert page.locator("#history .withdrawn-note").count() == 0

    page.goto(f"{ui_with_sources}/ui/#/report/rep-gone")
    note = page.locator("#history .withdrawn-note")
    note.wait_for(timeout=TIMEOUT_MS)
    assert "Withdrawn" in note.inner_text()
    expect(page.locator("#history")).to_have_attribute("data-change", "withdrawn")
    assert page.errors == []


def test_the_sources_view_highlights_a_failing_source(ui_with_sources: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{ui_with_sources}/ui/#/sources")
    failing = page.locator("#sources-table tr[data-source='Blocked Ministry']")
    failing.wait_for(timeout=TIMEOUT_MS)
    expect(failing).to_have_attribute("data-state", "failing")
    assert "flagged" in (failing.get_attribute("class") or "")
    rows = page.locator("#sources-table tbody tr")
    expect(rows.first).to_have_attribute("data-source", "Blocked Ministry")  # flagged first
    answering = page.locator("#sources-table tr[data-source='Answering Ministry']")
    assert "flagged" not in (answering.get_attribute("class") or "")
    expect(page.locator("#sources-summary")).to_have_text("2 sources, 1 silent or failing")
    assert page.errors == []
