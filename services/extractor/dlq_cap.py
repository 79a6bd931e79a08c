"""The dead-letter cap of the extraction stage (CWATCH_EXTRACTOR_DLQ_MAX_RATIO, off by default).

When most raw messages fail, the cause is a bug or a changed contract, not bad input: going on
would move the whole raw topic to the dead letters. The indexer and alerts stop by raising
TooManyDeadLetters out of their poll loop, before committing. A faust agent cannot: faust
acknowledges a message whose agent raised, and would commit it on its way down. So the worker
stops from inside the agent instead, before the message's event is acknowledged: the raw
partition's commit is held before that message (`RewindingApp.hold`), what was processed before
it is committed (faust flushes the producer first), and the process exits at once with
EXIT_TOO_MANY_DEAD_LETTERS, for a supervisor to restart and an operator to read. After the fix
(or with the cap off), the message and everything after it are read again: nothing is lost.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import NoReturn

from services.common.dlq import (
    EXIT_TOO_MANY_DEAD_LETTERS,
    DeadLetterCount,
    DlqLimit,
    TooManyDeadLetters,
)
from services.extractor import metrics
from services.extractor.handler import Origin, Outcome
from services.extractor.rewind import RewindingApp

log = logging.getLogger(__name__)
COMMIT_TIMEOUT_S = 10.0  # the last commit before the exit; past it, the rest is read again


class RawDeadLetterCap:
    """Counts each raw message's outcome against the cap (None: counted, never stops)."""

    def __init__(self, max_ratio: float | None) -> None:
        self._count = DeadLetterCount(DlqLimit(max_ratio=max_ratio))

    def check(self, outcome: Outcome) -> None:
        """Count one raw message; raises TooManyDeadLetters when its dead letter would break
        the cap (the letter is then neither sent nor the message acknowledged)."""
        self._count.seen()
        try:
            if outcome.dead_letter is None:
                self._count.ok()
            else:
                self._count.dead()
        finally:
            metrics.DEAD_LETTER_RATIO.set(self._count.ratio)


async def stop_uncommitted(app: RewindingApp, origin: Origin, exc: TooManyDeadLetters) -> NoReturn:
    """Stop the worker at `origin`, never committing it or anything after it."""
    log.error(
        "too many dead letters, stopping the worker uncommitted at %s partition %s offset %s: %s",
        origin.topic,
        origin.partition,
        origin.offset,
        exc,
    )
    # The exit is due within COMMIT_TIMEOUT_S whatever the commit does: a timer thread, not
    # asyncio.wait_for, which waits for the cancelled commit, and faust's commit can swallow a
    # cancellation (it takes one for the end of a concurrent commit).
    deadline = threading.Timer(COMMIT_TIMEOUT_S, _exit)
    deadline.daemon = True
    deadline.start()
    if origin.topic is not None and origin.partition is not None and origin.offset is not None:
        app.hold(origin.topic, origin.partition, origin.offset)
        try:
            await app.consumer.commit()
        except Exception:  # noqa: BLE001 - not committed: read again after the restart
            log.exception("last commit before the stop failed")
    _exit()


def _exit() -> NoReturn:
    # Not sys.exit nor app.crash: faust's orderly stop acknowledges and commits what the agent
    # holds, which here is the very message the stop is about.
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_TOO_MANY_DEAD_LETTERS)
