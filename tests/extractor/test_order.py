from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.extractor.order import OrderBuffer, WindowSwitch, raw_backlog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_items_leave_in_publication_order_once_the_oldest_has_waited() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(3.0, clock)
    buffer.add(200.0, "b", "later")
    clock.now = 1.0
    buffer.add(100.0, "a", "earlier")  # published first, arrived second
    clock.now = 3.5
    assert list(buffer.due()) == []  # the oldest has waited 2.5 s only
    clock.now = 4.0
    assert list(buffer.due()) == ["earlier", "later"]
    assert len(buffer) == 0


def test_arrival_order_does_not_change_the_order_items_leave_in() -> None:
    items = [(float(p), f"r{p}") for p in (5, 1, 4, 2, 3)]
    orders = []
    for arrival in (items, list(reversed(items))):
        clock = Clock()
        buffer: OrderBuffer[str] = OrderBuffer(2.0, clock)
        for published, name in arrival:
            buffer.add(published, name, name)
            clock.now += 0.1
        clock.now += 5
        orders.append(list(buffer.due()))
    assert orders[0] == orders[1] == ["r1", "r2", "r3", "r4", "r5"]


def test_a_worker_that_reads_every_raw_partition_and_keeps_up_holds_nothing() -> None:
    assert WindowSwitch(5.0).window(assigned_raw=6, raw_partitions=6, backlog=3) == 0.0


def test_while_other_workers_extract_too_drafts_are_held_the_window() -> None:
    switch = WindowSwitch(5.0)
    assert switch.window(assigned_raw=2, raw_partitions=6, backlog=0) == 5.0
    assert switch.window(assigned_raw=0, raw_partitions=6, backlog=0) == 5.0  # rebalance


def test_a_lone_worker_holds_the_window_from_a_backlog_until_it_stays_short_a_window() -> None:
    """One worker working off a backlog decides in the order three workers would."""
    clock = Clock()
    switch = WindowSwitch(5.0, backlog_records=100, clock=clock)
    assert switch.window(6, 6, backlog=1169) == 5.0
    clock.now += 1
    assert switch.window(6, 6, backlog=0) == 5.0  # a burst being fetched: empty for a moment
    clock.now += 1
    assert switch.window(6, 6, backlog=400) == 5.0
    clock.now += 1
    assert switch.window(6, 6, backlog=0) == 5.0
    clock.now += 4.9
    assert switch.window(6, 6, backlog=20) == 5.0  # short for 4.9 s: the last ones wait
    clock.now += 0.1
    assert switch.window(6, 6, backlog=0) == 0.0  # short for a whole window: live again
    assert switch.window(6, 6, backlog=60) == 0.0  # a short queue is no backlog


def test_a_steady_stream_after_a_burst_goes_live_though_drafts_are_always_held() -> None:
    """A draft or two always waiting (more than one article per window) no longer keeps a lone
    worker holding the window for good after a burst."""
    clock = Clock()
    switch = WindowSwitch(5.0, backlog_records=100, clock=clock)
    assert switch.window(6, 6, backlog=500) == 5.0
    windows = []
    for _ in range(20):  # a few records waiting at each look, as a steady stream leaves
        clock.now += 0.5
        windows.append(switch.window(6, 6, backlog=3))
    assert windows[:9] == [5.0] * 9
    assert set(windows[10:]) == {0.0}


def test_the_backlog_counts_from_the_last_record_extracted_else_the_commit() -> None:
    ends = {0: 50, 1: 10, 2: None, 3: 7}
    assert raw_backlog(ends, processed={0: 44}, committed={1: 4, 3: None}) == 5 + 6 + 7


def test_a_window_that_shrinks_to_zero_lets_every_held_item_go_in_order() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, clock)
    buffer.add(200.0, "b", "later")
    buffer.add(100.0, "a", "earlier")
    assert list(buffer.due()) == []
    # the other workers left, and this one has no backlog
    buffer.window_s = WindowSwitch(5.0).window(6, 6, backlog=0)
    assert list(buffer.due()) == ["earlier", "later"]


def test_older_dated_items_arriving_steadily_cannot_hold_the_others_past_two_windows() -> None:
    """A source whose items carry older dates (a re-listing, a forward) and arrive more often
    than the window kept renewing the oldest's wait: every other report was held for as long as
    that stream lasted. Each item now leaves at most two windows after it arrived."""
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, clock)
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
    assert len(buffer) <= 3  # nothing piles up


def test_what_is_let_go_early_still_leaves_in_publication_order() -> None:
    clock = Clock()
    buffer: OrderBuffer[str] = OrderBuffer(5.0, clock)
    buffer.add(300.0, "c", "c")
    clock.now = 4.0
    buffer.add(200.0, "b", "b")
    clock.now = 8.0
    buffer.add(100.0, "a", "a")  # the oldest, arrived last: it holds the others
    clock.now = 10.0
    assert list(buffer.due()) == ["a", "b", "c"]  # c has waited two windows


@given(
    st.lists(
        st.tuples(st.floats(0, 1e6), st.floats(0, 3), st.sampled_from([0.0, 2.0, 5.0])),
        max_size=60,
    )
)
def test_every_item_leaves_once_and_within_two_windows(
    arrivals: list[tuple[float, float, float]],
) -> None:
    clock = Clock()
    buffer: OrderBuffer[int] = OrderBuffer(5.0, clock)
    arrived: dict[int, float] = {}
    left: dict[int, float] = {}
    for number, (published, gap, window) in enumerate(arrivals):
        clock.now += gap
        buffer.window_s = window  # the window changes as workers come and go
        buffer.add(published, str(number), number)
        arrived[number] = clock.now
        for item in buffer.due():
            assert item not in left
            left[item] = clock.now
    for _ in range(11):
        clock.now += 1.0
        for item in buffer.due():
            assert item not in left
            left[item] = clock.now
    assert left.keys() == arrived.keys()
    assert all(left[n] - arrived[n] <= 10.0 + 3.0 for n in arrived)
