"""A partition the group never committed is read again from its start after a seek to the
committed offsets (aiokafka leaves it where it was, past any records faust dropped)."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from services.extractor.rewind import seek_to_committed_or_beginning

FRESH, ZERO, DONE = TP("raw", 3), TP("raw", 4), TP("raw", 5)


class FakeConsumer:
    def __init__(self) -> None:
        self.position = {FRESH: 37, ZERO: 5, DONE: 40}

    async def seek_to_committed(self) -> dict[TP, Any]:
        committed = {FRESH: None, ZERO: 0, DONE: 12}
        for tp, offset in committed.items():  # as aiokafka does
            if offset and offset > 0:
                self.position[tp] = offset
        return committed

    async def seek_to_beginning(self, *tps: TP) -> None:
        for tp in tps:
            self.position[tp] = 0


def test_partitions_without_a_commit_are_read_again_from_their_start() -> None:
    consumer = FakeConsumer()
    committed = asyncio.run(seek_to_committed_or_beginning(consumer))  # type: ignore[arg-type]
    assert committed == {FRESH: None, ZERO: 0, DONE: 12}
    assert consumer.position == {FRESH: 0, ZERO: 0, DONE: 12}


def test_the_extractor_app_uses_the_rewinding_consumer() -> None:
    from services.extractor.app import create_app
    from services.extractor.settings import ExtractorSettings

    app = create_app(ExtractorSettings())
    thread = app.consumer._thread  # type: ignore[attr-defined]
    assert type(thread).seek_to_committed.__module__ == "services.extractor.rewind"
