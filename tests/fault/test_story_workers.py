"""One of three extractor workers killed mid-stream (issue 20): nothing is lost and no
near-duplicate pair of the own story set is missed. The first worker started is killed; which
worker holds the story stage is the group's choice, so a run may or may not kill its owner.

Killing the owner every time (the first worker alone for 20 s keeps the story stage when the
others join), 2 runs of 13 lost one report or missed one pair; after a redelivered report
repeats its correction and the stall watchdog watches the story stage's partition, 19 of 20
passed, and the one that failed had its successor's table recovery hang in faust ("No event
received for active tp ... since recovery start" for 5 minutes). A stuck recovery now ends the
worker (`services/extractor/recovery_guard.py`), not yet seen on a real hang; until it has
been, this test leaves the choice to the group, as before.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from devtools.story_eval import load_own_set, near_duplicates
from devtools.supervisor import SERVICE_COMMANDS, ServiceProcess, wait_until
from schemas.report import Report
from schemas.topics import TopicNames
from services.common.kafka import make_producer
from tests.support import read_to_end

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]


def _reports(bootstrap: str, topic: str) -> dict[str, Report]:
    last: dict[str, Report] = {}
    for record in sorted(read_to_end(bootstrap, topic), key=lambda r: r.timestamp):
        report = Report.model_validate_json(record.value)
        last[report.report_id] = report  # a later record of an id is a correction
    return last


# The story stage is one partition: a rebalance that stalled it would stall every report
# (services/extractor/rewind.py and the stall watchdog read a stalled partition again).
# Both orders: arrival (0) and publication order held up to the default 30 s.
@pytest.mark.parametrize("order_window_s", ["0", "30"])
def test_killing_one_of_three_workers_loses_no_report_and_no_duplicate_pair(
    kafka_bootstrap: str, namespace: str, topics: TopicNames, tmp_path: Path, order_window_s: str
) -> None:
    articles = load_own_set()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_DATA_DIR": str(tmp_path / "extractor"),
        "CWATCH_LOG_LEVEL": "WARNING",
        # with a window, the story stage holds drafts unacknowledged: a dead owner's are re-read
        "CWATCH_STORY_ORDER_WINDOW_S": order_window_s,
    }
    workers = [
        ServiceProcess(f"x{n}", SERVICE_COMMANDS["extractor"], tmp_path / f"x{n}.log", env).start()
        for n in range(3)
    ]
    producer = make_producer(kafka_bootstrap, client_id="story-fault")
    try:
        time.sleep(20)  # the three join their group
        half = len(articles) // 2
        for article in articles[:half]:
            producer.send(
                topics.raw,
                key=article.raw.article_id.encode(),
                value=article.raw.model_dump_json().encode(),
            )
        producer.flush()
        assert wait_until(lambda: len(_reports(kafka_bootstrap, topics.report)) >= 20, 180)
        workers[0].kill()  # mid-stream: the rest of the first half is still being extracted
        for article in articles[half:]:
            producer.send(
                topics.raw,
                key=article.raw.article_id.encode(),
                value=article.raw.model_dump_json().encode(),
            )
        producer.flush()
        wanted = {a.raw.article_id for a in articles}
        assert wait_until(
            lambda: wanted <= set(_reports(kafka_bootstrap, topics.report)), 300, interval_s=5
        ), f"missing: {len(wanted - set(_reports(kafka_bootstrap, topics.report)))}"
        reports = _reports(kafka_bootstrap, topics.report)
        links = {rid: r.near_duplicate_of or r.duplicate_of for rid, r in reports.items()}
        pairs = {a.raw.article_id: a.near_duplicate_of for a in articles if a.near_duplicate_of}
        score = near_duplicates(links, pairs)
        assert score.linked == score.pairs, (score, pairs, links)
    finally:
        producer.close()
        for worker in workers:
            worker.stop()
            print(f"--- {worker.name} ---\n{worker.log_tail(10)}")
