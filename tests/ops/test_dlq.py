from __future__ import annotations

import pytest
from kafka.errors import KafkaTimeoutError

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
    first = dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, None, dry_run=False)
    assert (first.replayed, first.skipped, first.left, first.failed) == (2, 1, 0, 0)
    replayed = consume_all(kafka_bootstrap, topics.raw, expect=2)
    assert sorted(r.value for r in replayed) == [b"original-1", b"original-2"]
    # A second replay finds nothing new: the replay group committed past them.
    again = dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, None, dry_run=False)
    assert (again.replayed, again.skipped, again.left) == (0, 0, 0)


def _at(offset: int, item: DeadLetter) -> tuple[int, bytes]:
    return offset, item.model_dump_json().encode()


def test_a_filtered_replay_commits_only_up_to_the_first_letter_it_left_out() -> None:
    records = [
        _at(0, letter(Stage.EXTRACT, "timeout", b"a")),
        _at(1, letter(Stage.EXTRACT, "mapper bug", b"b")),  # left out by --grep timeout
        _at(2, letter(Stage.INDEX, "timeout", b"c")),  # another stage's
        _at(3, letter(Stage.EXTRACT, "timeout", b"d")),
    ]
    plan = dlq.plan_partition(0, records, set(), 4, Stage.EXTRACT, "timeout")
    assert [s.offset for s in plan.sends] == [0, 3]
    assert plan.pending == [1] and plan.skipped == 1
    # The group stays at the left-out letter and remembers that 3 was sent after it.
    assert dlq.next_commit(plan, sent={0, 3}, failed=set()) == (1, "3")

    # The next replay, without --grep, sends the left-out letter and not 3 again.
    later = dlq.plan_partition(0, records[1:], dlq.decode_offsets("3"), 4, Stage.EXTRACT, None)
    assert [s.offset for s in later.sends] == [1]
    assert dlq.next_commit(later, sent={1}, failed=set()) == (4, "")


def test_a_send_kafka_did_not_acknowledge_is_not_committed() -> None:
    records = [_at(i, letter(Stage.EXTRACT, "bug", f"p{i}".encode())) for i in range(3)]
    plan = dlq.plan_partition(0, records, set(), 3, Stage.EXTRACT, None)

    class Future:
        def __init__(self, ok: bool) -> None:
            self.ok = ok

        def get(self, timeout: float | None = None) -> None:
            if not self.ok:
                raise KafkaTimeoutError("no ack")

    class Producer:
        def send(self, topic: str, key: bytes | None, value: bytes, headers: object) -> Future:
            return Future(value != b"p1")

        def flush(self, timeout: float | None = None) -> None:
            pass

    sent, failed = dlq._send_all(Producer(), plan.sends, "dlq")
    assert (sent, failed) == ({0, 2}, {1})
    assert dlq.next_commit(plan, sent, failed) == (1, "2")


def test_replayed_offsets_round_trip_as_ranges() -> None:
    assert dlq.encode_offsets([9, 3, 4, 5]) == "3-5,9"
    assert dlq.decode_offsets("3-5,9") == {3, 4, 5, 9}
    assert dlq.decode_offsets("garbage") == set()


def test_a_filtered_replay_whose_memory_is_full_leaves_the_rest_for_later() -> None:
    records = [_at(0, letter(Stage.EXTRACT, "other", b"x"))] + [
        _at(i, letter(Stage.EXTRACT, "timeout", b"y")) for i in range(1, 200, 2)
    ]
    plan = dlq.plan_partition(0, records, set(), 200, Stage.EXTRACT, "timeout", budget=20)
    assert len(plan.sends) < 100 and len(plan.pending) == 1 + 100 - len(plan.sends)
    commit = dlq.next_commit(plan, {s.offset for s in plan.sends}, set())
    assert commit is not None and commit[0] == 0 and len(commit[1]) <= 20


@pytest.mark.integration
def test_a_replay_with_grep_leaves_the_other_letters_replayable_and_sends_nothing_twice(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="test")
    letters = [
        letter(Stage.EXTRACT, "mapper bug", b"left-1", topics.raw),
        letter(Stage.EXTRACT, "timeout", b"now-1", topics.raw),
        letter(Stage.EXTRACT, "mapper bug", b"left-2", topics.raw),
        letter(Stage.EXTRACT, "timeout", b"now-2", topics.raw),
    ]
    for item in letters:  # one partition: the order of the letters is the order of the offsets
        producer.send(topics.deadletter, value=item.model_dump_json().encode(), partition=0)
    producer.flush(30)
    producer.close()

    def replay(grep: str | None) -> dlq.ReplayResult:
        return dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, grep, dry_run=False)

    first = replay("timeout")
    assert (first.replayed, first.left) == (2, 2)
    assert dlq.replay(kafka_bootstrap, topics.deadletter, Stage.EXTRACT, None, True).replayed == 2
    second = replay(None)
    assert (second.replayed, second.left) == (2, 0)
    assert replay(None).replayed == 0
    values = sorted(r.value for r in consume_all(kafka_bootstrap, topics.raw, expect=4))
    assert values == [b"left-1", b"left-2", b"now-1", b"now-2"]
