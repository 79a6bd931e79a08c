"""A URL with control characters (or that urljoin cannot read) is one bad item wherever it
enters: feed links, Atom hrefs, sitemap locs, page canonicals, the sources file, the CLI.
The rest of the feed goes on, nothing raises out of a poll."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from schemas.raw import RawArticle
from services.cli import main
from services.ingestor.adapters.feed import parse_feed
from services.ingestor.app import Ingestor
from services.ingestor.http import SafeHttpClient
from services.ingestor.producer import RawSink
from services.ingestor.settings import IngestorSettings
from services.ingestor.sources import SourcesFileError, load_sources
from services.ingestor.state import IngestState
from tests.ingestor.conftest import FakeProducer

SITE = "http://93.184.216.34"
LONG = "<p>" + "Negotiators met again in Washington. " * 20 + "</p>"
BAD_LINKS = [f"{SITE}/a&#127;b", f"{SITE}/a&#x85;b", "http://[::1", f"{SITE}/a\u0080b"]


def rss(links: list[str], content: bool = True) -> str:
    body = f"<content:encoded><![CDATA[{LONG}]]></content:encoded>" if content else ""
    items = "".join(
        f"<item><title>Item {n}</title><link>{link}</link>"
        f"<description>short</description>{body}</item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"{items}</channel></rss>"
    )


def atom(hrefs: list[str]) -> str:
    entries = "".join(
        f'<entry><title>Entry {n}</title><link href="{href}"/><id>urn:{n}</id>'
        f'<content type="html">{LONG.replace("<", "&lt;")}</content></entry>'
        for n, href in enumerate(hrefs)
    )
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'


@pytest.mark.parametrize("bad", BAD_LINKS)
def test_a_feed_item_with_an_unusable_link_fails_alone(bad: str) -> None:
    for doc in (rss([bad, f"{SITE}/good"]), atom([bad, f"{SITE}/good"])):
        parsed = parse_feed(doc.encode(), feed_url=f"{SITE}/feed.xml")
        assert [e.link for e in parsed.entries] == [f"{SITE}/good"]
        assert [f.error_type for f in parsed.failures] in (["invalid_url"], ["invalid_item"])


def ingestor(
    settings: IngestorSettings, producer: FakeProducer, pages: dict[str, tuple[str, str]]
) -> Ingestor:
    def handler(request: httpx.Request) -> httpx.Response:
        body, kind = pages.get(request.url.path, ("", ""))
        if not kind:
            return httpx.Response(404)
        return httpx.Response(200, text=body, headers={"content-type": kind})

    state = IngestState(settings.state_path)
    return Ingestor(
        settings,
        state,
        http=SafeHttpClient(settings, transport=httpx.MockTransport(handler)),
        sink=RawSink(settings, state, producer_factory=lambda: producer),
    )


def produced(producer: FakeProducer) -> list[RawArticle]:
    return [
        RawArticle.model_validate_json(m["value"]) for m in producer.sent if ".raw." in m["topic"]
    ]


def letters(producer: FakeProducer) -> list[bytes]:
    return [m["value"] for m in producer.sent if "deadletter" in m["topic"]]


PAGE = f"<html><head><title>Page</title></head><body>{LONG}</body></html>"


@pytest.mark.parametrize("content", [True, False])
def test_polling_a_feed_with_a_control_character_link_keeps_the_other_items(
    settings: IngestorSettings, fake_producer: FakeProducer, content: bool
) -> None:
    feed = rss([f"{SITE}/a&#127;b", f"{SITE}/good"], content=content)
    pages = {"/feed.xml": (feed, "application/rss+xml"), "/good": (PAGE, "text/html")}
    worker = ingestor(settings, fake_producer, pages)
    for _ in range(2):  # every poll, not only the first
        worker.state.save_feed(f"{SITE}/feed.xml", None, None)
        worker.poll_feed(f"{SITE}/feed.xml")
    assert [a.url for a in produced(fake_producer)] == [f"{SITE}/good"]
    assert letters(fake_producer) and b"invalid_url" in letters(fake_producer)[0]


def test_a_sitemap_with_a_control_character_loc_keeps_the_other_pages(
    settings: IngestorSettings, fake_producer: FakeProducer
) -> None:
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{SITE}/a&#127;b</loc></url><url><loc>http://[::1</loc></url>"
        f"<url><loc>{SITE}/good</loc></url></urlset>"
    )
    pages = {"/sitemap.xml": (sitemap, "application/xml"), "/good": (PAGE, "text/html")}
    worker = ingestor(settings, fake_producer, pages)
    worker.poll_sitemap(f"{SITE}/sitemap.xml")
    assert [a.url for a in produced(fake_producer)] == [f"{SITE}/good"]
    assert len(letters(fake_producer)) == 2


@pytest.mark.parametrize(
    "canonical",
    ["https://example.com/&#127;", "http://[::1", "/a&#127;"],
)
def test_a_hostile_canonical_keeps_the_fetched_address(
    settings: IngestorSettings, fake_producer: FakeProducer, canonical: str
) -> None:
    page = f"<html><head><link rel=canonical href='{canonical}'></head><body>{LONG}</body></html>"
    worker = ingestor(settings, fake_producer, {"/p": (page, "text/html")})
    worker.ingest_page(f"{SITE}/p")
    worker.flush()
    assert [a.url for a in produced(fake_producer)] == [f"{SITE}/p"]


def test_a_sources_entry_with_a_control_character_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        'sources:\n  - {name: X, url: "https://example.com/\\x7f", country: GE, language: ka,'
        " affiliation: independent}\n"
    )
    with pytest.raises(SourcesFileError, match="control character"):
        load_sources(path)


def test_a_cli_url_with_a_control_character_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ingest", "https://example.com/\x7f"]) == 2
    assert "control character" in capsys.readouterr().err
