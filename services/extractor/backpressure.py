"""Keeping the story stage's table writes from piling up in faust's producer buffer.

A table write (`table[key] = value`) is synchronous, so faust queues its changelog record in
the producer buffer and sends it from a task of the same event loop. The story stage writes
several records per report (hash, signature, story profile, merges), and under CPU pressure
it wrote them faster than one turn of the loop per message sent: the buffer crept past
faust's limit of 100, and faust's conductor then warned "producer buffer full" and stalled
the streams until it drained. Waiting here, after each message, until at most `LOW_WATER`
records are left keeps the buffer far below that limit and makes the stage, not the
conductor, carry the backpressure."""

from __future__ import annotations

from typing import Any

LOW_WATER = 20  # records; a report writes a handful, faust stalls the streams above 100


async def settle_changelog(buffer: Any, low_water: int = LOW_WATER) -> None:
    """Wait until faust's producer buffer holds at most `low_water` records.

    Returns at once when the buffer is not running (a stopping worker flushes it itself)."""
    while buffer.size > low_water and buffer.state == "running":
        await buffer.flush_atmost(buffer.size - low_water)
