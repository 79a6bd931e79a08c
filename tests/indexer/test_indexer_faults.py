"""Crashes and outages: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from prometheus_client import REGISTRY

from schemas.indexed import IndexedEvent
from services.indexer.settings import IndexerSettings
from tests.indexer.conftest import committed_lag, count_docs, running
from tests.indexer.reportgen import make_report
from tests.indexer.tcp_proxy import TcpProxy
from tests.support import consume_all, wait_for

pytestmark = pytest.mark.fault
REPO = Path(__file__).resolve().parents[2]


def _ids(es: Any, alias: str) -> list[str]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10_000, _source=False, sort=["report_id"])["hits"]["hits"]
    return [h["_id"] for h in hits]


def _start(settings: IndexerSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CWATCH_NAMESPACE": settings.namespace,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "CWATCH_INDEXER_GROUP_ID": settings.indexer_group_id,
        # Small batches that each wait for a refresh: the kill lands while batches are in flight.
        "CWATCH_INDEXER_BATCH_MAX_DOCS": "50",
        # The killed instance stays in the group until its session expires; keep that short.
        "CWATCH_INDEXER_SESSION_TIMEOUT_MS": "6000",
        "CWATCH_INDEXER_REFRESH_MODE": "wait_for",
        "CWATCH_INDEXER_REFRESH_INTERVAL": "300ms",
        "CWATCH_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "indexer", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_batch_then_restart_leaves_every_report_indexed_exactly_once(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    reports = [make_report(i) for i in range(1500)]
    produce(reports)
    alias = indexer_settings.index_alias
    proc = _start(indexer_settings)
    try:
        wait_for(lambda: count_docs(es_client, alias) >= 200, timeout_s=60, what="first batches")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        at_kill = count_docs(es_client, alias)
        assert at_kill < len(reports), "the indexer finished before it could be killed"
        proc = _start(indexer_settings)
        wait_for(
            lambda: count_docs(es_client, alias) == len(reports),
            timeout_s=90,
            interval_s=0.5,
            what="every report after the restart",
        )
        wait_for(lambda: committed_lag(indexer_settings) == 0, timeout_s=30, what="commits")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, (proc.stderr.read() if proc.stderr else b"")[-2000:]
    assert _ids(es_client, alias) == sorted(r.report_id for r in reports)
    events = consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, timeout_s=10)
    announced = {IndexedEvent.model_validate_json(e.value).report_id for e in events}
    assert announced == {r.report_id for r in reports}  # at least once, replays possible


def test_elasticsearch_outage_pauses_then_resumes_without_losing_anything(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    target = urlparse(indexer_settings.elasticsearch_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 9200)
    settings = indexer_settings.model_copy(
        update={"elasticsearch_url": proxy.url, "indexer_es_timeout_s": 3.0}
    )
    alias = settings.index_alias
    before = [make_report(i) for i in range(100)]
    during = [make_report(i) for i in range(100, 400)]
    try:
        with running(settings):
            produce(before)
            wait_for(
                lambda: count_docs(es_client, alias) == 100, timeout_s=60, what="first reports"
            )
            proxy.cut()
            produce(during)
            wait_for(
                lambda: REGISTRY.get_sample_value("cwatch_indexer_es_available") == 0,
                timeout_s=30,
                what="the indexer noticing the outage",
            )
            time.sleep(5)  # the outage itself: several retry rounds must pass
            assert count_docs(es_client, alias) == 100
            assert committed_lag(settings) > 0
            proxy.restore()
            wait_for(
                lambda: count_docs(es_client, alias) == 400,
                timeout_s=60,
                what="the reports held during the outage",
            )
            wait_for(lambda: committed_lag(settings) == 0, timeout_s=30, what="lag recovered")
            assert REGISTRY.get_sample_value("cwatch_indexer_es_available") == 1
    finally:
        proxy.close()
    assert _ids(es_client, alias) == sorted(r.report_id for r in before + during)
    events = consume_all(settings.kafka_bootstrap_servers, topics.indexed, expect=400)
    assert {IndexedEvent.model_validate_json(e.value).report_id for e in events} == {
        r.report_id for r in before + during
    }
