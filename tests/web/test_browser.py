"""The web UI in real headless Chromium, against the real API, Kafka and Elasticsearch."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from schemas.common import Affiliation
from services.alerts.app import AlertsService
from services.api.ui import CSP
from tests.alerts.conftest import indexed_event, produce
from tests.alerts.factories import corpus, make_report

pytestmark = pytest.mark.browser
TIMEOUT_MS = 30_000


def test_page_is_served_with_a_strict_content_security_policy(ui: str) -> None:
    response = httpx.get(f"{ui}/ui/", timeout=10)
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert "<script>" not in response.text  # no inline script at all
    assert httpx.get(f"{ui}/ui/static/..%2Fapp.py", timeout=10).status_code == 404


def test_live_feed_shows_a_newly_indexed_report_without_reload(
    ui: str, page, topics, index_reports, report_alias, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{ui}/ui/#/live")
    expect(page.locator("#live-state")).to_have_text("connected", timeout=TIMEOUT_MS)
    page.evaluate("window.__sameDocument = true")
    report = make_report("rep-live-1", "Border guards exchange fire near Sotk", "Sotk village.")
    index_reports([report])
    produce(
        kafka_bootstrap,
        topics.indexed,
        [indexed_event(report, report_alias).model_dump_json().encode()],
    )
    item = page.locator("#live-list li[data-report-id='rep-live-1']")
    item.wait_for(timeout=TIMEOUT_MS)
    assert "Border guards exchange fire near Sotk" in item.inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.errors == []


def test_the_live_page_says_when_one_of_my_subscriptions_keeps_failing(
    ui: str, page, alerts_settings, es_client
) -> None:  # type: ignore[no-untyped-def]
    from services.alerts.models import Channel, ChannelKind, Subscription
    from services.alerts.store import AlertStore

    store = AlertStore(es_client, alerts_settings.index_prefix())
    email = Channel(kind=ChannelKind.EMAIL, email={"to": ["analyst@example.org"]})
    mine = store.put(Subscription(name="Tegh by email", owner="web-viewer", channel=email))
    theirs = store.put(Subscription(name="Not mine", owner="someone-else", channel=email))
    page.goto(f"{ui}/ui/#/live")
    expect(page.locator("#live-state")).to_have_text("connected", timeout=TIMEOUT_MS)
    for sub in (theirs, mine):  # what the alerts service writes after 3 dead letters in a row
        store.log_delivery(sub.id, "a1", "email", "channel_failing", 3, None, "SMTP 550 gone")
    notice = page.locator(f"#live-list li.channel-failing[data-subscription='{mine.id}']")
    notice.wait_for(timeout=TIMEOUT_MS)
    assert "Tegh by email" in notice.inner_text() and "SMTP 550 gone" in notice.inner_text()
    page.wait_for_timeout(5000)  # the hub's next looks: nothing more, nothing of others
    assert page.locator("#live-list li.channel-failing").count() == 1
    assert page.errors == []


def test_search_filters_facets_highlights_and_story_page(ui: str, page, index_reports) -> None:  # type: ignore[no-untyped-def]
    index_reports(corpus())
    page.goto(f"{ui}/ui/#/search")
    page.fill("#q", "Pashinyan")
    page.click("#apply")
    page.wait_for_selector("#search-list li em.hl", timeout=TIMEOUT_MS)
    # grouped by story: the four Brussels versions are one result
    assert page.locator("#search-list li").count() == 1
    assert "4 versions" in page.locator("#search-list li").first.inner_text()

    page.uncheck("#f-collapse")
    page.fill("#f-lang", "ru")
    page.click("#apply")
    results = page.locator("#search-list li")
    expect(results).to_have_count(1, timeout=TIMEOUT_MS)
    expect(results.first).to_have_attribute("data-report-id", "rep-00002")
    page.fill("#f-lang", "")
    page.fill("#q", "")
    page.click("#apply")
    page.locator("#facets button[data-facet='affiliation']", has_text="wire").click()
    expect(page.locator("#search-list li")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#f-affiliation")).to_have_value("wire")
    page.goto(f"{ui}/ui/#/story/story-brussels")
    page.wait_for_selector(
        "#story-columns .column[data-side='russian'] .version", timeout=TIMEOUT_MS
    )
    for side, count in (("armenian", 2), ("azerbaijani", 1), ("russian", 1), ("turkish", 0)):
        assert page.locator(f".column[data-side='{side}'] .version").count() == count
    assert page.errors == []


def test_story_page_lists_casualty_claims_with_who_made_them(ui: str, page, index_reports) -> None:  # type: ignore[no-untyped-def]
    index_reports(corpus())
    page.goto(f"{ui}/ui/#/story/story-rep-00004")
    row = page.locator("#claims tbody tr").first
    row.wait_for(timeout=TIMEOUT_MS)
    text = row.inner_text()
    assert "killed" in text and "Armenian MoD" in text and "armenian" in text


def test_article_markup_is_shown_as_text_and_never_executes(ui: str, page, index_reports) -> None:  # type: ignore[no-untyped-def]
    evil = make_report(
        "rep-evil-01",
        'Ceasefire <img src=x onerror="window.__pwned=1"> talks',
        'Body <script>window.__pwned=2</script> ceasefire <b onclick="x()">bold</b>',
        affiliation=Affiliation.UNKNOWN,
    )
    index_reports([evil])
    page.goto(f"{ui}/ui/#/search")
    page.fill("#q", "ceasefire")
    page.click("#apply")
    item = page.locator("#search-list li[data-report-id='rep-evil-01']")
    item.wait_for(timeout=TIMEOUT_MS)
    assert '<img src=x onerror="window.__pwned=1">' in item.inner_text()
    assert page.locator("#search-list img, #search-list script, #search-list b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_timeline_and_map_draw_the_reports(ui: str, page, index_reports) -> None:  # type: ignore[no-untyped-def]
    index_reports(corpus())
    page.goto(f"{ui}/ui/#/overview")
    page.wait_for_selector("#map circle.place", timeout=TIMEOUT_MS)
    page.wait_for_selector("#timeline rect.bar", timeout=TIMEOUT_MS)
    assert page.locator("#map circle.place").count() == 2  # Tavush, Nagorno-Karabakh
    assert "peace_talks" in page.locator("#timeline").inner_text()
    assert page.errors == []


def _create_sse_subscription(page, ui: str, query: str, name: str):  # type: ignore[no-untyped-def]
    """Create an in-page (SSE) subscription through the form; its row once listed."""
    page.goto(f"{ui}/ui/#/subscriptions")
    page.fill("#q", query)
    page.fill("#sub-name", name)
    page.select_option("#sub-channel", "sse")
    page.click("#sub-create")
    row = page.locator("#sub-table tbody tr", has_text=name)
    row.wait_for(timeout=TIMEOUT_MS)
    return row


def test_subscription_created_in_the_ui_fires(
    ui: str, page, alerts_settings, es_client, topics, index_reports, report_alias
) -> None:  # type: ignore[no-untyped-def]
    row = _create_sse_subscription(page, ui, "ceasefire", "Ceasefire watch")
    sub_id = row.get_attribute("data-sub-id")
    service = AlertsService(alerts_settings, es=es_client)
    reports = corpus()
    index_reports(reports)
    # the page follows an SSE subscription's stream as soon as it is listed
    page.locator(f"#sub-table tr[data-sub-id='{sub_id}'][data-stream='ready']").wait_for(
        timeout=TIMEOUT_MS
    )
    alerts = service.process([indexed_event(r, report_alias) for r in reports])
    service.producer.flush(10)
    assert [a.report_ids for a in alerts] == [["rep-00005"]]
    alert = page.locator("#alert-list li.alert")
    alert.wait_for(timeout=TIMEOUT_MS)
    assert "Ceasefire violation claims denied by Baku" in alert.inner_text()
    page.locator("#sub-table tbody tr", has_text="Ceasefire watch").get_by_text("Log").click()
    page.locator("#delivery-list li", has_text="sse sent").wait_for(timeout=TIMEOUT_MS)
    service.producer.close()


def test_a_late_first_subscription_list_does_not_hide_one_just_created(ui: str, page) -> None:  # type: ignore[no-untyped-def]
    # The page's first list may answer last (on a fresh install it creates the store): CI saw
    # that stale, empty answer wipe the row of a subscription created meanwhile.
    held = []  # the page's first list, answered only after the create

    def hold_the_first_list(route, request) -> None:  # type: ignore[no-untyped-def]
        if request.method == "GET" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/v1/subscriptions", hold_the_first_list)
    row = _create_sse_subscription(page, ui, "shelling", "Late list watch")
    held[0].fulfill(json={"subscriptions": []})  # what that list said before the create
    page.wait_for_timeout(500)
    expect(row).to_be_visible()


def test_an_email_subscription_created_in_the_ui_shows_its_deliveries(
    ui: str, page, alerts_settings, es_client
) -> None:  # type: ignore[no-untyped-def]
    """Created through the form, delivered for real (SMTP on loopback, refused once), and
    the deliveries view shows sent, retrying and failed with the reasons."""
    from datetime import UTC, datetime

    from schemas.alert import Alert
    from services.alerts.delivery import WebhookSender
    from services.alerts.senders import ChannelSenders, SmtpMailer
    from services.alerts.store import AlertStore
    from services.common.netguard import NetPolicy
    from tests.alerts.smtp import smtp_server

    page.goto(f"{ui}/ui/#/subscriptions")
    page.fill("#q", "Tegh")
    page.fill("#sub-name", "Tegh by email")
    page.select_option("#sub-channel", "email")
    assert page.locator("#sub-url").is_hidden() and page.locator("#sub-email").is_visible()
    page.fill("#sub-email", "analyst@example.org")
    page.select_option("#sub-schedule", "daily")
    page.fill("#sub-timezone", "Asia/Yerevan")
    page.click("#sub-create")
    row = page.locator("#sub-table tbody tr", has_text="Tegh by email")
    row.wait_for(timeout=TIMEOUT_MS)
    assert "analyst@example.org (daily 08:00 Asia/Yerevan)" in row.inner_text()

    store = AlertStore(es_client, alerts_settings.index_prefix())
    sub = store.get(row.get_attribute("data-sub-id"))
    sub.channel.email.schedule = "immediate"  # sent now, not at 08:00
    with smtp_server() as box:
        box.refuse_next = ["451 4.3.0 greylisted, try again"]
        settings = alerts_settings.model_copy(
            update={"alerts_smtp_port": box.port, "alerts_smtp_security": "none"}
        )
        webhooks = WebhookSender(
            NetPolicy(allow_loopback=True),
            log_delivery=lambda *line: store.log_delivery(*line),
            dead_letter=lambda letter: None,
            max_attempts=2,
            backoff_s=0.01,
        )
        senders = ChannelSenders(
            settings, webhooks, SmtpMailer(settings), lambda ids: [], lambda *a: None
        )
        alert = Alert(
            alert_id="a-tegh",
            subscription_id=sub.id,
            report_ids=["r1"],
            story_id="story-tegh",
            headline="Shelling near Tegh",
            matched_at=datetime.now(UTC),
        )
        assert senders.deliver(sub, alert).delivered
        senders.mailer.close()
    assert len(box.messages) == 1

    row.get_by_text("Log").click()
    page.locator("#delivery-list li.outcome-retrying", has_text="greylisted").wait_for(
        timeout=TIMEOUT_MS
    )
    page.locator("#delivery-list li.outcome-sent", has_text="email sent").wait_for(
        timeout=TIMEOUT_MS
    )
    assert "sent 1 · retrying 1 · failed 0" in page.locator("#delivery-counts").inner_text()
    assert page.errors == []


def test_a_subscriptions_feed_button_shows_a_feed_url_a_reader_can_read(ui: str, page) -> None:  # type: ignore[no-untyped-def]
    import feedparser

    row = _create_sse_subscription(page, ui, "shelling", "Feed watch")
    row.get_by_role("button", name="Feed").click()
    link = page.locator("#sub-feed-url")
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    assert page.locator("#sub-feed-for").inner_text() == "Feed watch"
    url = link.get_attribute("href")
    assert url and "/feeds/" in url and link.inner_text() == url
    answer = httpx.get(url, timeout=30)  # a feed reader: no session, the URL is the key
    assert answer.status_code == 200, answer.text
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo and "Feed watch" in parsed.feed.title
