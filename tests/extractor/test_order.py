from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from services.extractor.order import (
    OrderBuffer,
    Watermark,
    parse_progress,
    progress_marker,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_watermark_items_leave_in_publication_order_after_the_hold() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(3.0, clock)
    buffer.add(200.0, "b", "later")
    clock.now = 1.0
    buffer.add(100.0, "a", "earlier")  # published first, arrived second
    clock.now = 2.5
    assert list(buffer.due()) == []
    clock.now = 3.0  # "later" has waited its hold: it leaves, and what was published before it
    assert list(buffer.due()) == ["earlier", "later"]
    assert len(buffer) == 0


def test_items_the_watermark_has_passed_leave_at_once_in_publication_order() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(30.0, clock)
    for published in (300.0, 100.0, 200.0):
        buffer.add(published, str(published), str(published))
    assert list(buffer.due(watermark=250.0)) == ["100.0", "200.0"]
    assert list(buffer.due(watermark=math.inf)) == ["300.0"]


def test_the_watermark_is_the_least_advanced_busy_partition() -> None:
    watermark = Watermark(3)
    assert watermark.limit() == -math.inf  # nothing heard of yet: hold
    watermark.saw(0, 500.0, waiting=40)
    watermark.saw(1, 300.0, waiting=12)
    assert watermark.limit() == -math.inf  # partition 2 unheard of
    watermark.saw(2, None, waiting=0)  # nothing waiting there: holds nothing back
    assert watermark.limit() == 300.0
    watermark.saw(1, 350.0, waiting=0)
    assert watermark.limit() == 500.0
    watermark.saw(0, 520.0, waiting=0)
    assert watermark.limit() == math.inf  # every worker keeps up: nothing held
    watermark.saw(9, 1.0, waiting=100)  # not a raw partition: no say
    assert watermark.limit() == math.inf


def _decided(workers: int, seed: int) -> list[str]:
    """Drafts of six raw partitions, published in order within each, extracted by `workers`
    workers at random speeds and reaching the stage in whatever order that gives."""
    rng = random.Random(seed)
    partitions: list[list[tuple[float, str]]] = [[] for _ in range(6)]
    for number in range(300):
        partitions[rng.randrange(6)].append((float(number), f"r{number}"))
    lanes = [[p for p in range(6) if p % workers == w] for w in range(workers)]
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(1e9, clock)
    watermark = Watermark(6)
    position = [0] * 6
    decided: list[str] = []
    while any(position[p] < len(partitions[p]) for p in range(6)):
        lane = lanes[rng.randrange(workers)]
        busy = [p for p in lane if position[p] < len(partitions[p])]
        if not busy:
            continue
        partition = rng.choice(busy)
        when, name = partitions[partition][position[partition]]
        position[partition] += 1
        watermark.saw(partition, when, len(partitions[partition]) - position[partition])
        buffer.add(when, name, name)
        clock.now += rng.random()
        decided.extend(buffer.due(watermark.limit()))
    decided.extend(buffer.due(math.inf))
    return decided


def test_one_and_three_workers_at_any_speeds_decide_in_the_same_order() -> None:
    """The watermark waits for the slowest partition: the order drafts are decided in depends
    neither on the number of workers nor on their speeds (with the hold long enough)."""
    one = _decided(1, seed=1)
    assert one == [f"r{n}" for n in range(300)]
    for seed in range(5):
        assert _decided(3, seed) == one


def test_older_dated_items_arriving_steadily_cannot_hold_the_others_past_the_hold() -> None:
    """A source whose items carry older dates (a re-listing, a forward) and arrive more often
    than the hold kept renewing the oldest's wait: every other report was held for as long as
    that stream lasted. Each item now leaves at most `hold_s` after it arrived."""
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(10.0, clock)
    buffer.add(1000.0, "news", "news")
    left: dict[str, float] = {}
    arrived: dict[str, float] = {"news": 0.0}
    for second in range(1, 121):  # one older-dated item every 4 s, for two minutes
        clock.now = float(second)
        if second % 4 == 0:
            name = f"old{second}"
            buffer.add(500.0 - second, name, name)
            arrived[name] = clock.now
        for item in buffer.due():
            left[item] = clock.now
    assert left["news"] <= 10.0
    assert all(left[name] - arrived[name] <= 10.0 for name in left)
    assert len(left) >= len(arrived) - 3


def test_what_is_let_go_early_still_leaves_in_publication_order() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(10.0, clock)
    buffer.add(300.0, "c", "c")
    clock.now = 4.0
    buffer.add(200.0, "b", "b")
    clock.now = 8.0
    buffer.add(100.0, "a", "a")  # the oldest, arrived last: it holds the others
    clock.now = 10.0
    assert list(buffer.due()) == ["a", "b", "c"]  # c has waited its hold


def test_past_the_item_cap_the_oldest_leave() -> None:
    buffer: OrderBuffer[int] = OrderBuffer(60.0, Clock(), max_items=3)
    for published in (5, 1, 4, 2, 3):
        buffer.add(float(published), "", published)
    assert list(buffer.due()) == [1, 2]
    assert len(buffer) == 3


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e6),
            st.floats(0, 3),
            st.sampled_from([2.0, 5.0, 10.0]),
            st.sampled_from([-math.inf, 0.0, 5e5, math.inf]),
        ),
        max_size=60,
    )
)
def test_every_item_leaves_once_and_within_its_hold(
    arrivals: list[tuple[float, float, float, float]],
) -> None:
    clock = Clock()
    buffer: OrderBuffer[int] = OrderBuffer(10.0, clock)
    arrived: dict[int, float] = {}
    left: dict[int, float] = {}
    for number, (published, gap, hold, watermark) in enumerate(arrivals):
        clock.now += gap
        buffer.hold_s = hold  # the setting may change between runs of the stage
        buffer.add(published, str(number), number)
        arrived[number] = clock.now
        for item in buffer.due(watermark):
            assert item not in left
            left[item] = clock.now
    for _ in range(11):
        clock.now += 1.0
        for item in buffer.due():
            assert item not in left
            left[item] = clock.now
    assert left.keys() == arrived.keys()
    assert all(left[n] - arrived[n] <= 10.0 + 3.0 for n in arrived)


def test_a_progress_marker_reads_back_and_a_bad_one_says_nothing() -> None:
    entries = [(0, 1700000000.5, 3), (4, None, 0)]
    assert parse_progress(progress_marker(entries)) == entries
    assert parse_progress(b'{"report": {}}') is None  # a draft
    assert parse_progress(b'{"progress": [[1, "x", 2], [true, 1, 1], [1, 2], 5]}') == []
    assert parse_progress(b'{"progress": [[1, NaN, 2]]}') == []
    assert parse_progress(b'{"progress": [[1, 2.0, 2]') == []
    assert parse_progress(b'{"progress":' + b" " * 70_000 + b"[]}") == []


def test_each_item_let_go_says_why() -> None:
    clock = Clock()
    reasons: list[str] = []
    buffer: OrderBuffer[int] = OrderBuffer(10.0, clock, max_items=2, on_release=reasons.append)
    for published in (1.0, 2.0, 3.0, 4.0):
        buffer.add(published, "", int(published))
    assert list(buffer.due(watermark=1.0)) == [1, 2]
    assert reasons == ["watermark", "cap"]
    clock.now = 10.0
    assert list(buffer.due()) == [3, 4]
    assert reasons[2:] == ["hold", "hold"]
