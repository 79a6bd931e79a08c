"""The daemon's wiring on real Kafka: push API, health, metrics, polling the sources file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from schemas.raw import RawArticle
from schemas.topics import TopicNames
from services.ingestor.server import Daemon
from services.ingestor.settings import IngestorSettings
from services.ingestor.sources import load_sources
from tests.ingestor.loopback import LoopbackServer, rss
from tests.support import LOCAL_BASE_URL, api_token, bearer, consume_all

pytestmark = pytest.mark.integration

LONG = "<p>" + "Negotiators met again in Washington. " * 20 + "</p>"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


@pytest.fixture
def daemon(
    kafka_bootstrap: str, es_url: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer
) -> Iterator[Daemon]:
    feed = server.add(
        "/feed.xml",
        rss([{"title": "Polled item", "link": server.url("/n/1"), "content": LONG}]),
        "application/rss+xml",
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: Loopback Times, url: '{feed}', country: GE, language: ka,"
        " affiliation: independent, poll_interval_s: 3600}\n"
    )
    settings = IngestorSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        elasticsearch_url=es_url,
        namespace=topics.namespace,
        state_path=tmp_path / "state.sqlite",
        sources_file=sources,
        allow_loopback=True,
        http_per_host_min_interval_s=0.0,
    )
    d = Daemon(settings)
    yield d
    d.shutdown()


def test_push_api_produces_to_kafka_and_health_and_metrics_answer(
    daemon: Daemon, kafka_bootstrap: str, topics: TopicNames
) -> None:
    client = TestClient(daemon.app(), base_url=LOCAL_BASE_URL)
    client.headers.update(
        bearer(api_token(daemon.settings.elasticsearch_url, topics.namespace, "editor"))
    )
    response = client.post(
        "/v1/articles",
        json={"url": "https://news.am/eng/news/1.html", "title": "Pushed", "text": "Body"},
    )
    assert response.status_code == 202
    [record] = consume_all(kafka_bootstrap, topics.raw, expect=1)
    article = RawArticle.model_validate_json(record.value)
    assert response.json()["ids"] == [article.article_id] and article.title == "Pushed"
    health = client.get("/healthz").json()
    assert health["articles_seen"] == 1 and health["sources"] == 1
    metrics = client.get("/metrics").text
    assert 'cwatch_ingestor_items_produced_total{kind="push"}' in metrics
    assert "# TYPE cwatch_ingestor_fetch_seconds histogram" in metrics


def test_a_push_needs_an_editor_and_takes_its_identity_from_a_registered_source(
    daemon: Daemon, kafka_bootstrap: str, topics: TopicNames, server: LoopbackServer
) -> None:
    client = TestClient(daemon.app(), base_url=LOCAL_BASE_URL)
    es = daemon.settings.elasticsearch_url
    article = {
        "url": "https://news.am/eng/news/2.html",
        "title": "Claimed",
        "text": "Body",
        "source": {"name": "Ministry of Defence of Armenia", "affiliation": "government"},
    }
    assert client.post("/v1/articles", json=article).status_code == 401
    viewer = bearer(api_token(es, topics.namespace, "viewer"))
    assert client.post("/v1/articles", json=article, headers=viewer).status_code == 403
    assert client.get("/metrics").status_code == 401
    editor = bearer(api_token(es, topics.namespace, "editor", "ed"))
    unknown = client.post("/v1/articles?source=Nobody", json=article, headers=editor)
    assert unknown.status_code == 422 and "cwatch sources add" in unknown.text
    # Another registered source's URL: it would be marked as seen before the poller reads it.
    poisoned = {**article, "url": server.url("/n/1")}
    assert client.post("/v1/articles", json=poisoned, headers=editor).status_code == 403

    anonymous = client.post("/v1/articles", json=article, headers=editor)
    registered = client.post(
        "/v1/articles",
        json={**poisoned, "title": "Own"},
        headers={**editor, "X-Cwatch-Source": "Loopback Times"},
    )
    assert anonymous.status_code == 202 and registered.status_code == 202, registered.text
    records = consume_all(kafka_bootstrap, topics.raw, expect=2)
    pushed = {a.title: a for a in (RawArticle.model_validate_json(r.value) for r in records)}
    assert pushed["Claimed"].source.name == "push:ed"  # the body's claim is ignored
    assert pushed["Claimed"].source.affiliation == "unknown"
    own = pushed["Own"].source
    assert (own.name, own.country, own.affiliation) == ("Loopback Times", "GE", "independent")
    assert pushed["Own"].pushed_by and pushed["Own"].pushed_by == pushed["Claimed"].pushed_by


def test_poller_reads_the_sources_file_and_tags_articles_with_the_outlet(
    daemon: Daemon, kafka_bootstrap: str, topics: TopicNames
) -> None:
    daemon.poller.run_due(now=float("inf"))
    [record] = consume_all(kafka_bootstrap, topics.raw, expect=1)
    article = RawArticle.model_validate_json(record.value)
    assert article.title == "Polled item"
    assert article.source.name == "Loopback Times" and article.source.country == "GE"
    assert article.source.affiliation.value == "independent" and article.source.language == "ka"
    assert dict(record.headers)["source"] == b"Loopback Times"


def test_workers_stop_when_asked(daemon: Daemon) -> None:
    daemon.start_workers()
    daemon.stop.set()
    for thread in daemon.threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in daemon.threads)
    assert daemon.health()["status"] == "degraded"


def test_shipped_sources_load_in_the_daemon_settings() -> None:
    assert len(load_sources(IngestorSettings().sources_file)) > 30


def test_the_daemon_polls_a_telegram_channel_of_the_sources_file_onto_kafka(
    kafka_bootstrap: str, es_url: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer
) -> None:
    from tests.ingestor.telegram_pages import Post, serve_channel

    serve_channel(server, "mod_loop", [Post(7, "Statement on the border"), Post(8, "Update")])
    sources = tmp_path / "tg.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: MoD Loop, kind: telegram, url: '{server.url('/s/mod_loop')}', country: AM,"
        " language: hy, affiliation: government, official: true}\n"
    )
    settings = IngestorSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        namespace=topics.namespace,
        elasticsearch_url=es_url,
        state_path=tmp_path / "tg.sqlite",
        sources_file=sources,
        allow_loopback=True,
        http_per_host_min_interval_s=0.0,
    )
    d = Daemon(settings)
    try:
        d.poller.run_due(now=float("inf"))
        records = consume_all(kafka_bootstrap, topics.raw, expect=2)
        articles = [RawArticle.model_validate_json(r.value) for r in records]
        assert sorted(a.url or "" for a in articles) == [
            "https://t.me/mod_loop/7",
            "https://t.me/mod_loop/8",
        ]
        assert {dict(r.headers)["source_kind"] for r in records} == {b"telegram"}
        token = api_token(es_url, topics.namespace, "editor")
        [status] = (
            TestClient(d.app(), base_url=LOCAL_BASE_URL)
            .get("/v1/sources", headers=bearer(token))
            .json()
        )
        assert status["name"] == "MoD Loop" and status["official"]
        assert status["consecutive_failures"] == 0 and status["last_item"] is not None
    finally:
        d.shutdown()
