from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from schemas.common import SourceInfo, SourceKind
from schemas.raw import MAX_RAW_HTML_CHARS, RawArticle
from services.ingestor.adapters.base import Failure, make_article
from services.ingestor.producer import RawSink, fit_to_limit
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState
from tests.ingestor.conftest import FakeProducer

SOURCE = SourceInfo(name="Armenpress", kind=SourceKind.FEED, country="AM", language="en")


def article(n: int = 1, html: str | None = None) -> RawArticle:
    return make_article(
        source=SOURCE,
        url=f"https://armenpress.am/eng/news/{n}",
        title=f"Item {n}",
        html=html or f"<p>Body {n}</p>",
        ingested_at=datetime(2024, 5, 1, tzinfo=UTC),
    )


def test_small_article_is_sent_unchanged() -> None:
    a = article()
    fitted, payload = fit_to_limit(a, 1_000_000)
    assert fitted == a and RawArticle.model_validate_json(payload) == a


def test_oversized_html_is_truncated_with_flag_and_original_size() -> None:
    big = "<p>" + "Ереван " * 200_000 + "</p>"
    fitted, payload = fit_to_limit(article(html=big), 300_000)
    assert len(payload) <= 300_000
    assert fitted.html_truncated and fitted.original_size == len(big.encode())
    assert fitted.html and big.startswith(fitted.html) and len(fitted.html) > 100_000


def test_html_beyond_the_schema_character_limit_is_truncated() -> None:
    big = "a" * (MAX_RAW_HTML_CHARS + 10)
    fitted, _ = fit_to_limit(article(html=big), 50_000_000)
    assert fitted.html_truncated and fitted.html is not None
    assert len(fitted.html) == MAX_RAW_HTML_CHARS


def sink(
    settings: IngestorSettings, producer: FakeProducer, state: IngestState | None = None
) -> RawSink:
    return RawSink(
        settings, state or IngestState(settings.state_path), producer_factory=lambda: producer
    )


def test_article_is_keyed_by_id_with_schema_version_and_source_headers(
    settings: IngestorSettings, fake_producer: FakeProducer
) -> None:
    s = sink(settings, fake_producer)
    a = article()
    assert s.submit(a)
    assert s.flush() == set()
    [msg] = fake_producer.sent
    assert msg["topic"] == "tunit.cwatch.raw.v1"
    assert msg["key"] == a.article_id.encode()
    headers = dict(msg["headers"])
    assert headers["schema_version"] == b"1" and headers["source"] == b"Armenpress"
    assert RawArticle.model_validate_json(msg["value"]) == a


def test_same_article_twice_is_a_duplicate_also_after_a_restart(
    settings: IngestorSettings, fake_producer: FakeProducer
) -> None:
    s = sink(settings, fake_producer)
    assert s.submit(article(1)) and not s.submit(article(1))
    s.flush()
    restarted = sink(settings, FakeProducer(), IngestState(settings.state_path))
    assert not restarted.submit(article(1))
    assert restarted.submit(article(2))
    assert restarted.duplicates == 1


def test_articles_are_marked_seen_only_after_the_broker_acked(settings: IngestorSettings) -> None:
    producer = FakeProducer(fail_sends=3)  # broker away for the first three attempts
    state = IngestState(settings.state_path)
    s = sink(settings, producer, state)
    s.submit(article(1))
    assert not state.is_seen(article(1).article_id)
    assert s.flush() == set()
    assert state.is_seen(article(1).article_id)
    assert producer.attempts == 4 and len(producer.sent) == 1


def test_flush_with_timeout_reports_what_is_still_unacknowledged(
    settings: IngestorSettings,
) -> None:
    producer = FakeProducer(fail_sends=10**9)
    state = IngestState(settings.state_path)
    s = sink(settings, producer, state)
    s.submit(article(1))
    assert s.flush(timeout_s=0.05) == {article(1).article_id}
    assert not state.is_seen(article(1).article_id)


def test_producer_creation_is_retried_while_kafka_is_down(settings: IngestorSettings) -> None:
    from kafka.errors import KafkaConnectionError

    calls = {"n": 0}
    producer = FakeProducer()

    def factory() -> FakeProducer:
        calls["n"] += 1
        if calls["n"] < 3:
            raise KafkaConnectionError("no broker")
        return producer

    s = RawSink(settings, IngestState(settings.state_path), producer_factory=factory)
    s.submit(article(1))
    s.flush()
    assert calls["n"] == 3 and len(producer.sent) == 1


def test_failure_becomes_an_ingest_dead_letter_with_source_reason_and_payload(
    settings: IngestorSettings, fake_producer: FakeProducer
) -> None:
    s = sink(settings, fake_producer)
    s.dead_letter(
        Failure("https://e.com/feed", "HTTP 404 from https://e.com/feed", "http_404", b"body")
    )
    [msg] = fake_producer.sent
    assert msg["topic"] == "tunit.cwatch.deadletter.v1"
    letter = json.loads(msg["value"])
    assert letter["stage"] == "ingest" and letter["error_type"] == "http_404"
    assert letter["source"] == "https://e.com/feed" and "404" in letter["reason"]


def test_state_survives_reopening(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "s.sqlite")
    state.mark_seen(["a1", "a2"])
    state.mark_files([(tmp_path / "x.txt", 10, 123)])
    state.save_feed("https://e.com/feed", '"etag"', "Mon, 01 Jan 2024 00:00:00 GMT")
    state.close()
    again = IngestState(tmp_path / "s.sqlite")
    assert again.seen(["a1", "a2", "a3"]) == {"a1", "a2"}
    assert again.file_unchanged(tmp_path / "x.txt", 10, 123)
    assert not again.file_unchanged(tmp_path / "x.txt", 11, 123)
    assert again.feed_validators("https://e.com/feed") == (
        '"etag"',
        "Mon, 01 Jan 2024 00:00:00 GMT",
    )
