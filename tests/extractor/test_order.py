from __future__ import annotations

import itertools
import random

from services.extractor.order import OrderBuffer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(buffer: OrderBuffer[str]) -> list[str]:
    return list(buffer.due())


def test_a_draft_waits_while_a_partition_behind_may_still_send_an_older_one() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, ["0", "1"], clock)
    buffer.add("0", 200.0, True, "b", "later")
    assert drain(buffer) == []  # partition 1 has not spoken: it may hold something older
    buffer.add("1", 100.0, True, "a", "earlier")
    assert drain(buffer) == []  # 1 is still behind: a draft from before 100 may yet come
    buffer.add("1", 300.0, True, "c", "latest")
    assert drain(buffer) == ["earlier"]  # 0 (behind, at 200) may send another at 200
    buffer.add("0", 400.0, False, "d", "caught-up")  # 0 has nothing waiting: it holds nothing
    assert drain(buffer) == ["later"]  # 1 (behind, at 300) may still send one before 400
    buffer.add("1", 350.0, False, "e", "last")
    assert drain(buffer) == ["latest", "last", "caught-up"]
    assert len(buffer) == 0


def test_caught_up_partitions_decide_at_once() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, ["0", "1", "2"], clock)
    clock.now = 6.0  # started long enough ago: the partitions not heard from hold nothing
    buffer.add("2", 50.0, False, "x", "live")
    assert drain(buffer) == ["live"]


def test_a_silent_partition_behind_stops_holding_the_others_after_idle_s() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, ["0", "1"], clock)
    buffer.add("1", 10.0, True, "a", "from-1")  # then partition 1's worker dies
    buffer.add("0", 20.0, True, "b", "from-0")
    assert drain(buffer) == []
    clock.now = 4.9
    buffer.add("0", 30.0, True, "c", "from-0-again")
    assert drain(buffer) == []  # 1 (behind, at 10) may still send another at 10
    clock.now = 5.0  # 1 silent for idle_s: only 0 (at 30) holds now
    assert drain(buffer) == ["from-1", "from-0"]


def test_no_draft_waits_longer_than_max_hold_nor_past_max_held() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(1e9, ["0", "1"], clock, max_hold_s=60, max_held=3)
    buffer.add("0", 1.0, True, "a", "a")
    clock.now = 59.0
    assert drain(buffer) == []
    clock.now = 60.0
    assert drain(buffer) == ["a"]
    for n in range(4):
        buffer.add("0", 10.0 + n, True, f"k{n}", f"k{n}")
    assert drain(buffer) == ["k0"]  # 4 held, 3 allowed: the oldest leaves
    assert len(buffer) == 3


def test_the_order_drafts_are_decided_in_does_not_depend_on_how_partitions_interleave() -> None:
    """Each raw partition in publication order, read by any number of workers at any speed:
    the drafts leave in one order, publication time then report id."""
    rng = random.Random(7)
    partitions = {
        str(p): sorted((rng.uniform(0, 1000), f"r{p}-{n}") for n in range(40)) for p in range(3)
    }
    expected = sorted((pub, rid) for items in partitions.values() for pub, rid in items)
    for trial in range(20):
        clock = Clock()
        buffer: OrderBuffer[str] = OrderBuffer(5.0, list(partitions), clock)
        queues = {p: list(items) for p, items in partitions.items()}
        out: list[str] = []
        for _ in itertools.count():
            live = [p for p, q in queues.items() if q]
            if not live:
                break
            p = rng.choice(live)  # whichever worker finishes next
            published, rid = queues[p].pop(0)
            buffer.add(p, published, bool(queues[p]), rid, rid)
            clock.now += rng.uniform(0, 0.5)  # never silent for idle_s
            out.extend(buffer.due())
        out.extend(buffer.due())
        assert out == [rid for _, rid in expected], trial


def test_a_partition_says_where_it_stands_without_a_draft() -> None:
    """Ticks: a partition whose last messages made no draft (dead letters) releases the others
    once it says it caught up; one that keeps saying it is behind keeps holding past idle_s."""
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, ["0", "1"], clock)
    buffer.add("0", 100.0, False, "a", "a")
    buffer.add("1", 50.0, True, "b", "b")  # then partition 1's next messages are dead-lettered
    assert drain(buffer) == []
    for second in range(1, 10):
        clock.now = float(second)
        buffer.touch("1", True)  # its worker is still on it
        assert drain(buffer) == []
    buffer.touch("1", False)
    assert drain(buffer) == ["b", "a"]
