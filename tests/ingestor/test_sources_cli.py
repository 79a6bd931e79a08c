"""`cwatch sources ...`: editing the sources file without losing its comments, OPML in and
out, a dry-run test of a source, and the health table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import main
from services.ingestor.opml import OpmlError, read_opml, write_opml
from services.ingestor.sources import load_sources
from services.ingestor.state import IngestState
from tests.ingestor.loopback import LoopbackServer, rss
from tests.ingestor.telegram_pages import Post, serve_channel

SOURCES = """# Our sources: keep this comment
sources:
  # --- Armenia ---
  - name: Armenpress
    url: https://armenpress.am/en/rss/
    country: AM
    language: en
    affiliation: state
  # --- Azerbaijan ---
  - {name: APA, url: 'https://apa.az/en/rss', country: AZ, language: en, affiliation: pro-government}
  - name: Trend
    url: https://en.trend.az/feeds/index.rss
    country: AZ
    language: en
    affiliation: pro-government
"""


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    return path


def test_add_and_remove_keep_the_comments_and_the_other_entries(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--country", "AM", "--language", "hy", "--affiliation", "government", "--official"]
    assert main(["sources", "add", "@mod_example", "--sources", str(sources), *args]) == 0
    assert (
        main(["sources", "add", "https://t.me/mod_example", "--sources", str(sources), *args]) == 0
    )
    assert "already there" in capsys.readouterr().out
    [*_, added] = load_sources(sources)
    assert added.kind.value == "telegram" and added.channel == "mod_example" and added.official
    assert added.url == "https://t.me/s/mod_example"
    assert main(["sources", "remove", "APA", "--sources", str(sources)]) == 0
    text = sources.read_text()
    assert "# Our sources: keep this comment" in text and "# --- Azerbaijan ---" in text
    assert [e.name for e in load_sources(sources)] == ["Armenpress", "Trend", "mod_example"]
    assert main(["sources", "remove", "Armenpress", "--sources", str(sources)]) == 0
    assert "# --- Armenia ---" in sources.read_text()
    assert [e.name for e in load_sources(sources)] == ["Trend", "mod_example"]
    assert main(["sources", "remove", "nobody", "--sources", str(sources)]) == 1


def test_a_bad_entry_is_refused_and_the_file_is_untouched(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = ["sources", "add", "ftp://x.example/feed", "--sources", str(sources)]
    assert main([*bad, "--country", "AM", "--language", "en"]) == 2
    assert "http(s)" in capsys.readouterr().err
    assert sources.read_text() == SOURCES


def test_list_shows_every_source(sources: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "list", "--sources", str(sources), "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == [
        "Armenpress",
        "APA",
        "Trend",
    ]
    assert main(["sources", "list", "--sources", str(sources)]) == 0
    assert "pro-government" in capsys.readouterr().out


def test_opml_round_trip_keeps_what_cwatch_knows(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "feeds.opml"
    assert main(["sources", "export-opml", "--sources", str(sources), "--out", str(out)]) == 0
    entries, problems = read_opml(out.read_bytes())
    assert not problems
    assert [(e.name, e.country, e.affiliation.value) for e in entries] == [
        (e.name, e.country, e.affiliation.value) for e in load_sources(sources)
    ]
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text("sources:\n")
    assert main(["sources", "import-opml", str(out), "--sources", str(fresh)]) == 0
    assert len(load_sources(fresh)) == 3


def test_a_feed_readers_opml_takes_defaults_and_reports_unusable_outlines() -> None:
    data = b"""<?xml version="1.0"?><opml version="1.0"><head><title>Reader</title></head><body>
    <outline text="News"><outline text="CivilNet" type="rss" xmlUrl="https://civilnet.am/feed/"/>
    <outline text="Bad" type="rss" xmlUrl="javascript:alert(1)"/></outline></body></opml>"""
    entries, problems = read_opml(data, country="AM", language="en")
    assert [(e.name, e.country, e.affiliation.value) for e in entries] == [
        ("CivilNet", "AM", "unknown")
    ]
    assert len(problems) == 1 and "javascript" in problems[0]
    assert write_opml(entries).startswith(b"<?xml")


def test_an_opml_with_entity_tricks_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "aaaa">]><opml><body/></opml>'
    with pytest.raises(OpmlError):
        read_opml(bomb)


# -- on loopback ----------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


@pytest.mark.integration  # loopback sockets; nothing may reach Kafka
def test_sources_test_shows_what_would_be_produced_without_producing(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CWATCH_STATE_PATH", str(tmp_path / "state.sqlite"))
    monkeypatch.setenv("CWATCH_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # would fail loudly
    serve_channel(server, "chan_t", [Post(1, "First post"), Post(2, "Second post")])
    url = server.url("/s/chan_t")
    assert main(["sources", "test", url, "--kind", "telegram", "--allow-loopback", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [a["title"] for a in result["articles"]] == ["First post", "Second post"]
    feed = server.add(
        "/f.xml",
        rss([{"title": "Feed item", "link": "https://x.example/1", "content": "<p>Body</p>"}]),
        "application/rss+xml",
    )
    assert main(["sources", "test", feed, "--allow-loopback"]) == 0
    assert "would produce 1, fail 0" in capsys.readouterr().out
    assert main(["sources", "test", server.url("/missing"), "--allow-loopback"]) == 0
    assert "FAILED http_404" in capsys.readouterr().out
    assert not (tmp_path / "state.sqlite").exists()  # nothing was remembered either


def test_sources_status_is_a_table_of_each_sources_health(
    sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_path = tmp_path / "state.sqlite"
    from services.ingestor.health import SourceHealth
    from services.ingestor.settings import IngestorSettings

    state = IngestState(state_path)
    health = SourceHealth(state, IngestorSettings(state_path=state_path), clock=lambda: 1000.0)
    health.record("https://armenpress.am/en/rss/", None, 3)
    for _ in range(3):
        health.record("https://apa.az/en/rss", "timeout", 0)
    state.close()
    args = ["sources", "status", "--sources", str(sources), "--state", str(state_path)]
    assert main([*args, "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["APA"]["state"] == "failing" and rows["APA"]["consecutive_failures"] == 3
    assert (
        rows["Armenpress"]["state"] == "learning" and rows["Armenpress"]["last_success"] == 1000.0
    )
    assert rows["Trend"]["last_success"] is None
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "LAST SUCCESS" in out and "3x timeout" in out and "never" in out
