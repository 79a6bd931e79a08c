"""The search page's export button in real headless Chromium: the file it downloads holds
every match of the filters on the page, in the chosen format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.alerts.factories import corpus

pytestmark = pytest.mark.browser
TIMEOUT_MS = 30_000


def test_export_button_downloads_every_match_of_the_filters(ui: str, page, index_reports) -> None:  # type: ignore[no-untyped-def]
    reports = corpus()
    index_reports(reports)
    page.goto(f"{ui}/ui/#/search")
    page.fill("#q", "Pashinyan")
    page.click("#apply")
    page.wait_for_selector("#search-list li", timeout=TIMEOUT_MS)
    assert "reports" in page.locator("#export-note").inner_text()
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click("#export-link")
    download = info.value
    assert download.suggested_filename.endswith("-csv.csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    expected = page.evaluate(
        "fetch('/v1/search?q=Pashinyan&size=100').then(r => r.json())"
        ".then(d => d.hits.map(h => h.report_id))"
    )
    assert sorted(r["report_id"] for r in rows) == sorted(expected) and len(expected) > 1

    page.select_option("#export-format", "geojson")
    page.fill("#q", "")  # as typed, not yet applied: the export takes the filters on the page
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click("#export-link")
    fc = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert fc["type"] == "FeatureCollection" and fc["cwatch"]["reports"] == len(reports)
    assert page.errors == []


def test_a_search_saved_in_the_ui_gets_an_atom_feed_a_reader_can_read(
    ui: str, page, index_reports
) -> None:  # type: ignore[no-untyped-def]
    import feedparser
    import httpx

    index_reports(corpus())
    page.goto(f"{ui}/ui/#/search")
    page.fill("#q", "Pashinyan")
    page.click("#apply")
    page.wait_for_selector("#search-list li", timeout=TIMEOUT_MS)
    page.fill("#save-name", "Pashinyan <watch> & co")
    page.click("#save-search")
    link = page.locator("#feed-url")
    link.wait_for(state="visible", timeout=TIMEOUT_MS)
    url = link.get_attribute("href")
    assert url and url.startswith(f"{ui}/feeds/")
    parsed = feedparser.parse(httpx.get(url, timeout=10).content)
    assert not parsed.bozo and parsed.feed.title == "caucasus-watch: Pashinyan <watch> & co"
    expected = page.evaluate(
        "fetch('/v1/search?q=Pashinyan&sort=time&size=50').then(r => r.json())"
        ".then(d => d.hits.map(h => 'urn:cwatch:report:' + h.report_id))"
    )
    assert [e.id for e in parsed.entries] == expected and expected
    assert page.errors == []
