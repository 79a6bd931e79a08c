from __future__ import annotations

from services.extractor.order import OrderBuffer


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
