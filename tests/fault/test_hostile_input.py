"""Hostile input through the write side: poison on the indexed and alert topics, floods of
duplicates, a 50 MB page, XML bombs.

One deployment serves the module (the `live` fixture in conftest.py): every service (indexer,
extractor, alerts, search API, ingestor daemon) runs as a process on the shared Kafka and
Elasticsearch, in a namespace of its own. Each test writes its own word (a tag) into what it
sends, so the counts it asserts are its own. Nothing here stops Kafka or Elasticsearch:
test_kafka_outage.py and test_elasticsearch_outage.py do that, on a private runtime.

The API refuses webhooks to loopback (the production default); the alerts service itself is
allowed to reach the test's receiver on loopback, so those subscriptions are written to the
store directly, where the API would write them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from devtools.supervisor import wait_until
from schemas.deadletter import DeadLetter
from services.common.kafka import make_producer
from tests.alerts.factories import make_report
from tests.fault.helpers import (
    SUBSCRIPTION_REFRESH_S,
    alert_store,
    article_text,
    assert_each_indexed_once,
    dead_letters,
    new_tag,
    produce_reports,
    run_ingest,
    search_total,
    webhook,
)
from tests.support import (
    Deployment,
    Receiver,
    read_to_end,
    topic_size,
)

pytestmark = pytest.mark.fault


def test_poison_on_the_indexed_and_alert_topics_is_dead_lettered_and_alerts_go_on(
    live: Deployment, es_client: Elasticsearch, receiver: Callable[..., Receiver]
) -> None:
    tag = new_tag()
    hook = receiver()
    alert_store(live, es_client).put(webhook(hook.url, tag))
    time.sleep(5 * SUBSCRIPTION_REFRESH_S)  # the matcher re-reads subscriptions that often
    poison = [
        b"not json",
        b"\xff\xfe\x00 invalid utf-8",
        b'{"schema_version": 1}',
        b"[]",
        b"{" * 10000,
        b"",
    ]
    producer = make_producer(live.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="poison")
    for topic in (live.topics.indexed, live.topics.alert):
        for i, value in enumerate(poison):
            producer.send(topic, key=f"{tag}-{i}".encode(), value=value)
    producer.flush(30)
    producer.close()
    produce_reports(live, [make_report(f"{tag}-good", f"{tag}: after the poison")])

    def poison_letters() -> list[DeadLetter]:
        return [
            letter
            for letter in dead_letters(live)
            if letter.original_key and letter.original_key.startswith(f"{tag}-")
        ]

    assert wait_until(lambda: len(hook.ok()) == 1, 120), live.stack["alerts"].log_tail()
    # Poison and the good report went to different partitions: wait for both sides.
    assert wait_until(lambda: len(poison_letters()) >= 2 * len(poison), 60)
    letters = poison_letters()
    by_topic = Counter((letter.original_topic, letter.stage.value) for letter in letters)
    assert by_topic == {
        (live.topics.indexed, "alert"): len(poison),
        (live.topics.alert, "delivery"): len(poison),
    }
    assert sorted(letter.payload() for letter in letters) == sorted(poison * 2)
    assert all(letter.reason for letter in letters)
    live.stack.check_alive()
    with live.api() as api:
        assert api.get("/healthz").status_code == 200


def test_a_flood_of_duplicates_through_push_files_and_topics_ends_as_one_report(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    title, text = article_text(tag, 0)
    record = {"title": title, "text": text}
    with live.push() as client:
        first = client.post("/v1/articles", json={"articles": [record] * 100})
        again = [client.post("/v1/articles", json=record) for _ in range(20)]
    assert first.status_code == 202, first.text
    (article_id,) = set(first.json()["ids"])
    assert (first.json()["accepted"], len(first.json()["duplicates"])) == (1, 99)
    assert all(r.status_code == 202 and r.json()["accepted"] == 0 for r in again)

    folder = tmp_path / "copies"
    folder.mkdir()
    for i in range(30):
        (folder / f"copy-{i:02d}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    (folder / "copies.jsonl").write_text((json.dumps(record) + "\n") * 50, encoding="utf-8")
    # Its own state: the files are news to it, so it produces one of the 80 copies.
    summary = run_ingest(live, str(folder), "--state", str(tmp_path / "state.sqlite"))
    assert (summary["produced"], summary["duplicate"], summary["failed"]) == (1, 79, 0)

    # A replaying producer upstream, or an operator's replay: the same messages again and again.
    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw = [r for r in read_to_end(bootstrap, live.topics.raw) if r.key == article_id.encode()]
    assert len(raw) == 2  # one from the push API, one from the files
    assert wait_until(lambda: search_total(live, q=tag) == 1, 120)
    report = [r for r in read_to_end(bootstrap, live.topics.report) if r.key == raw[0].key]
    producer = make_producer(bootstrap, client_id="flood")
    for _ in range(50):
        producer.send(live.topics.raw, key=raw[0].key, value=raw[0].value)
        producer.send(live.topics.report, key=report[0].key, value=report[0].value)
    producer.flush(30)
    producer.close()

    assert_each_indexed_once(live, es_client, [article_id])
    assert search_total(live, q=tag) == 1


def test_a_50_mb_page_gets_413_from_push_and_is_cut_to_fit_by_cwatch_ingest(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    paragraph = (
        "<p>Armenian and Azerbaijani officials met near Lachin to discuss the corridor and the "
        "border; the talks will continue next week, the ministry said.</p>\n"
    )
    head = f"<html lang='en'><head><title>The longest page about Lachin {tag}</title></head><body>"
    page = head + paragraph * ((50_000_000 - len(head)) // len(paragraph)) + "</body></html>"
    data = page.encode()
    assert len(data) >= 49_900_000

    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw_before = topic_size(bootstrap, live.topics.raw)
    with live.push() as client:
        html = client.post(
            "/v1/articles",
            params={"url": f"https://news.example/{tag}"},
            content=data,
            headers={"content-type": "text/html"},
        )
        as_json = client.post(
            "/v1/articles",
            content=json.dumps({"title": tag, "html": page}).encode(),
            headers={"content-type": "application/json"},
        )
    for response in (html, as_json):
        assert response.status_code == 413
        assert (
            "push limit" in response.json()["error"] and "cwatch ingest" in response.json()["error"]
        )
    assert topic_size(bootstrap, live.topics.raw) == raw_before

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "page.html").write_bytes(data)
    with (folder / "over-the-file-limit.html").open("wb") as oversized:  # 60 MB, sparse
        oversized.write(head.encode())
        oversized.truncate(60 * 1024 * 1024)
    summary = run_ingest(live, str(folder), "--state", str(tmp_path / "state.sqlite"))
    assert (summary["produced"], summary["failed"]) == (1, 1)
    assert summary["failed_by_reason"] == {"too_large": 1}

    assert wait_until(lambda: search_total(live, q=tag) == 1, 180)
    with live.api() as api:
        hit = api.get("/v1/search", params={"q": tag}).json()["hits"][0]
    (document,) = es_client.search(
        index=live.alias, query={"ids": {"values": [hit["report_id"]]}}, source=["html_truncated"]
    )["hits"]["hits"]
    assert document["_source"]["html_truncated"] is True  # cut on purpose, and it says so
    refused = [
        letter
        for letter in dead_letters(live)
        if letter.source and letter.source.endswith("over-the-file-limit.html")
    ]
    assert [(r.stage.value, r.error_type) for r in refused] == [("ingest", "too_large")]
    assert "limit" in refused[0].reason


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>TAG</title>
<item><title>TAG &lol9;</title><description>&lol9;</description></item>
</channel></rss>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>TAG</title>
<entry><title>TAG &secret;</title><id>urn:x</id><content>&secret;</content></entry></feed>
"""


def good_feed(tag: str, items: int) -> bytes:
    entries = []
    for i in range(items):
        title, text = article_text(tag, i)
        body = " ".join([text] * 3)  # long enough to be the full text: no page to fetch
        entries.append(
            f"<item><title>{title}</title><link>https://feed.example/{tag}/{i}</link>"
            f"<guid>{tag}-{i}</guid><description>{body}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Border wire {tag}</title>'
        f"<link>https://feed.example/</link>{''.join(entries)}</channel></rss>"
    ).encode()


def test_a_feed_with_an_xml_bomb_is_dead_lettered_and_the_good_feed_of_the_same_run_flows(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "bomb.rss").write_bytes(BILLION_LAUGHS.replace(b"TAG", tag.encode()))
    (folder / "external.atom").write_bytes(EXTERNAL_ENTITY.replace(b"TAG", tag.encode()))
    (folder / "good.rss").write_bytes(good_feed(tag, 3))

    summary = run_ingest(
        live, str(folder), "--state", str(tmp_path / "state.sqlite"), "--no-linked-pages"
    )
    assert (summary["produced"], summary["failed"]) == (3, 2)
    assert summary["failed_by_reason"] == {"unsafe_xml": 2}

    refused = [
        letter
        for letter in dead_letters(live)
        if letter.source and Path(letter.source).parent == folder
    ]
    assert sorted(Path(str(r.source)).name for r in refused) == ["bomb.rss", "external.atom"]
    assert all((r.stage.value, r.error_type) == ("ingest", "unsafe_xml") for r in refused)
    assert all("entities" in r.reason or "DTD" in r.reason for r in refused)
    assert {r.payload() for r in refused} == {
        (folder / "bomb.rss").read_bytes(),
        (folder / "external.atom").read_bytes(),
    }
    assert wait_until(lambda: search_total(live, q=tag) == 3, 120)
    with live.api() as api:
        hits = api.get("/v1/search", params={"q": tag}).json()["hits"]
    assert all("Shooting reported near" in hit["headline"] for hit in hits), hits  # the good ones
