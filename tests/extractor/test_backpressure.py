"""The story stage waits for its changelog writes instead of letting faust's buffer fill."""

from __future__ import annotations

import asyncio

from services.extractor.backpressure import LOW_WATER, settle_changelog


class Buffer:
    """faust's ProducerBuffer as the stage sees it: a size, a state, and a flush that sends
    one record per turn of the loop."""

    def __init__(self, size: int, state: str = "running") -> None:
        self.size = size
        self.state = state
        self.flushes = 0

    async def flush_atmost(self, most: int) -> int:
        self.flushes += 1
        sent = min(most, 1)
        await asyncio.sleep(0)
        self.size -= sent
        return sent


def test_a_full_buffer_is_drained_to_the_low_water_mark_before_the_next_message() -> None:
    buffer = Buffer(size=150)
    asyncio.run(settle_changelog(buffer))
    assert buffer.size == LOW_WATER


def test_a_buffer_under_the_mark_costs_no_wait() -> None:
    buffer = Buffer(size=LOW_WATER)
    asyncio.run(settle_changelog(buffer))
    assert buffer.flushes == 0


def test_a_stopping_buffer_is_left_to_the_worker_that_flushes_it() -> None:
    buffer = Buffer(size=500, state="stopping")
    asyncio.run(settle_changelog(buffer))
    assert buffer.size == 500
