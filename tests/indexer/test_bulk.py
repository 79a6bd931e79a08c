import json
import random

import pytest

from services.indexer.bulk import (
    Action,
    Batcher,
    BatchLimits,
    Outcome,
    RetriesExhausted,
    backoff_delay,
    bulk_body,
    classify,
    error_reason,
    index_batch,
)


def _action(i: int, size: int = 10) -> Action:
    return Action(doc_id=f"id{i}", index="idx", source_json=json.dumps({"x": "a" * size}))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (201, Outcome.OK),
        (409, Outcome.REPLAY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (400, Outcome.REJECT),
        (404, Outcome.REJECT),
    ],
)
def test_bulk_item_status_is_classified(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_bulk_body_uses_index_op_with_report_id() -> None:
    lines = bulk_body([_action(1)]).splitlines()
    assert json.loads(lines[0]) == {"index": {"_index": "idx", "_id": "id1"}}
    assert json.loads(lines[1]) == {"x": "a" * 10}


def test_bulk_body_escapes_ids_and_keeps_each_action_with_its_index() -> None:
    actions = [
        Action(doc_id='a"b\\c', index="idx-2026.10", source_json="{}"),
        Action(doc_id="плохо\n", index="idx-2026.11", source_json="{}"),
        Action(doc_id="third", index="idx-2026.10", source_json="{}"),
    ]
    heads = [json.loads(line) for line in bulk_body(actions).splitlines()[::2]]
    assert heads == [{"index": {"_index": a.index, "_id": a.doc_id}} for a in actions]


def test_batch_is_full_by_count() -> None:
    batcher = Batcher(BatchLimits(max_docs=3, max_bytes=10**9, max_wait_s=60), clock=lambda: 0.0)
    for i in range(2):
        batcher.add(_action(i))
    assert not batcher.due()
    batcher.add(_action(3))
    assert batcher.full() and batcher.due()
    assert len(batcher.take()) == 3 and len(batcher) == 0


def test_batch_is_full_by_bytes() -> None:
    batcher = Batcher(BatchLimits(max_docs=1000, max_bytes=2000, max_wait_s=60), clock=lambda: 0.0)
    batcher.add(_action(1, size=2500))
    assert batcher.full()


def test_partial_batch_is_due_after_max_wait() -> None:
    now = [100.0]
    batcher = Batcher(BatchLimits(max_docs=1000, max_bytes=10**9, max_wait_s=0.5), lambda: now[0])
    assert not batcher.due()  # empty batches are never due
    batcher.add(_action(1))
    now[0] += 0.4
    assert not batcher.due()
    now[0] += 0.2
    assert batcher.due()


def test_invalid_messages_count_in_the_batch_for_offset_commit() -> None:
    batcher = Batcher(BatchLimits(), clock=lambda: 0.0)
    batcher.add(None, context="bad record")
    batch = batcher.take()
    assert batch.contexts == ["bad record"] and batch.actions == []


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.1, 5.0, rng) for a in range(10)]
    assert 0.05 <= delays[0] <= 0.1
    assert 0.4 <= delays[3] <= 0.8
    assert all(d <= 5.0 for d in delays)
    assert delays[9] >= 2.5
    assert len({round(backoff_delay(4, 0.1, 5.0, rng), 6) for _ in range(5)}) > 1


def test_rejected_item_is_reported_while_the_rest_is_acknowledged() -> None:
    batcher = Batcher(BatchLimits(), clock=lambda: 0.0)
    for i in range(3):
        batcher.add(_action(i))
    batch = batcher.take()

    def send(actions):  # type: ignore[no-untyped-def]
        return [
            {"status": 201},
            {
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "failed to parse field [headline]",
                    "caused_by": {"type": "illegal_argument_exception", "reason": "bad"},
                },
            },
            {"status": 409},
        ]

    index_batch(batch, send, max_attempts=3, base_s=0.01, cap_s=0.01, sleep=lambda s: None)
    assert [(a.doc_id, o) for a, o in batch.acknowledged] == [
        ("id0", Outcome.OK),
        ("id2", Outcome.REPLAY),
    ]
    assert [r.action.doc_id for r in batch.rejected] == ["id1"]
    assert batch.rejected[0].error_type == "document_parsing_exception"
    assert "failed to parse field [headline]" in batch.rejected[0].reason
    assert "illegal_argument_exception" in batch.rejected[0].reason
    assert batch.actions == []


def test_throttled_items_are_retried_alone_after_a_backoff() -> None:
    batcher = Batcher(BatchLimits(), clock=lambda: 0.0)
    for i in range(3):
        batcher.add(_action(i))
    batch = batcher.take()
    calls: list[list[str]] = []
    slept: list[float] = []

    def send(actions):  # type: ignore[no-untyped-def]
        calls.append([a.doc_id for a in actions])
        if len(calls) == 1:
            return [{"status": 201}, {"status": 429}, {"status": 503}]
        return [{"status": 201} for _ in actions]

    index_batch(batch, send, max_attempts=5, base_s=0.1, cap_s=1, sleep=slept.append)
    assert calls == [["id0", "id1", "id2"], ["id1", "id2"]]
    assert len(slept) == 1 and slept[0] > 0
    assert sorted(a.doc_id for a, _ in batch.acknowledged) == ["id0", "id1", "id2"]


def test_items_still_throttled_after_all_attempts_stay_in_the_batch() -> None:
    batcher = Batcher(BatchLimits(), clock=lambda: 0.0)
    batcher.add(_action(1))
    batcher.add(_action(2))
    batch = batcher.take()
    with pytest.raises(RetriesExhausted):
        index_batch(
            batch,
            lambda actions: [{"status": 201 if a.doc_id == "id1" else 429} for a in actions],
            max_attempts=2,
            base_s=0.01,
            cap_s=0.01,
            sleep=lambda s: None,
        )
    assert [a.doc_id for a in batch.actions] == ["id2"]
    assert [a.doc_id for a, _ in batch.acknowledged] == ["id1"]


def test_unreachable_elasticsearch_keeps_the_batch_untouched() -> None:
    batcher = Batcher(BatchLimits(), clock=lambda: 0.0)
    batcher.add(_action(1))
    batch = batcher.take()

    def down(actions):  # type: ignore[no-untyped-def]
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        index_batch(batch, down, max_attempts=3, base_s=0.01, cap_s=0.01, sleep=lambda s: None)
    assert [a.doc_id for a in batch.actions] == ["id1"] and not batch.acknowledged


def test_error_reason_of_an_item_without_error_body() -> None:
    assert error_reason({"status": 400}) == "status 400"
