from __future__ import annotations

import pytest

from schemas.deadletter import DeadLetter, Stage
from schemas.topics import TopicNames
from services.common.kafka import make_producer
from services.ops import dlq
from tests.support import consume_all


def letter(stage: Stage, reason: str, payload: bytes, topic: str = "raw") -> DeadLetter:
    return DeadLetter.of(stage, reason, payload, original_topic=topic, original_key="k1")


def test_select_filters_by_stage_and_reason_text() -> None:
    items = list(
        dlq.parse_letters(
            [
                (0, 0, letter(Stage.EXTRACT, "invalid UTF-8", b"a").model_dump_json().encode()),
                (0, 1, b"not a dead letter at all"),
                (
                    0,
                    2,
                    letter(Stage.INDEX, "mapper_parsing_exception", b"b")
                    .model_dump_json()
                    .encode(),
                ),
            ]
        )
    )
    assert len(items) == 2  # the unreadable record is skipped, not fatal
    assert [i.offset for i in dlq.select(items, Stage.INDEX, None)] == [2]
    assert [i.offset for i in dlq.select(items, None, "utf-8")] == [0]


@pytest.mark.integration
def test_replay_sends_originals_of_one_stage_back_once(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="test")
    letters = [
        letter(Stage.EXTRACT, "bug fixed since", b"original-1", topics.raw),
        letter(Stage.EXTRACT, "bug fixed since", b"original-2", topics.raw),
        letter(Stage.INDEX, "mapping", b"report-1", topics.report),
    ]
    for item in letters:
        producer.send(topics.deadletter, value=item.model_dump_json().encode())
    producer.flush(30)
    producer.close()

    assert len(dlq.read_all(kafka_bootstrap, topics.deadletter)) == 3
    assert dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, None, dry_run=False) == (
        2,
        1,
    )
    replayed = consume_all(kafka_bootstrap, topics.raw, expect=2)
    assert sorted(r.value for r in replayed) == [b"original-1", b"original-2"]
    # A second replay finds nothing new: the replay group committed past them.
    assert dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, None, dry_run=False) == (
        0,
        0,
    )
