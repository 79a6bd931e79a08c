"""The delivery log, written in the background and in bulk: the log is for people and must not
add a round trip per alert to the alert path (nor let a slow Elasticsearch stall it).

Every line of the alerts service goes through here, the "sent" / "queued" lines too, which are
also the marks that keep a replayed alert from being delivered twice (`store.delivered`). A
mark not written yet is still known here (`unwritten_marks`), so the dispatcher asks this
writer first, then the store: a mark is never in neither. Lines the store did not take are
offered again with the next batch (MAX_PENDING at most). A crash loses the lines of the last
interval: their alerts may be delivered once more after the restart (at-least-once, with the
same alert id and email Message-ID), as after a crash between a send and its mark.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence

from services.alerts.store import AlertStore, DeliveryLine

log = logging.getLogger(__name__)

MAX_PENDING = 100_000  # lines kept while the store is away; older ones are dropped
MAX_BATCH = 2_000  # lines per bulk request


class DeliveryLogWriter:
    def __init__(self, store: AlertStore, interval_s: float = 0.5) -> None:
        self.store = store
        self.interval_s = interval_s
        self._pending: list[DeliveryLine] = []
        self._marks: dict[str, int] = {}  # alert id -> its mark lines not written yet
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one bulk at a time: lines stay in order
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery-log", daemon=True)
        self._thread.start()

    def write(self, line: DeliveryLine) -> None:
        self._queue([line])

    def add(self, items: Sequence[tuple[str, str]], channel: str, outcome: str) -> None:
        """(subscription id, alert id) lines of one channel and outcome, no marks."""
        self._queue([DeliveryLine(s, a, channel, outcome) for s, a in items])

    def _queue(self, lines: Iterable[DeliveryLine], front: bool = False) -> None:
        with self._lock:
            lines = list(lines)
            for line in lines if not front else ():
                if line.line_id:
                    self._marks[line.alert_id] = self._marks.get(line.alert_id, 0) + 1
            self._pending = lines + self._pending if front else self._pending + lines
            if len(self._pending) > MAX_PENDING:
                dropped = self._pending[: len(self._pending) - MAX_PENDING]
                del self._pending[: len(dropped)]
                self._forget(dropped)
                log.warning("delivery log lines dropped", extra={"lines": len(dropped)})
            if len(self._pending) >= MAX_BATCH:
                self._wake.set()

    def _forget(self, lines: Iterable[DeliveryLine]) -> None:
        """Caller holds the lock: these lines' marks are written (or dropped)."""
        for line in lines:
            if line.line_id and line.alert_id in self._marks:
                self._marks[line.alert_id] -= 1
                if self._marks[line.alert_id] <= 0:
                    del self._marks[line.alert_id]

    def unwritten_marks(self, alert_ids: Iterable[str]) -> set[str]:
        """The alerts among `alert_ids` delivered (or queued) whose mark is not written yet."""
        with self._lock:
            return {a for a in alert_ids if a in self._marks}

    def flush(self) -> None:
        with self._flushing:
            while True:
                with self._lock:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                if not batch:
                    return
                try:
                    refused = self.store.log_lines(batch)
                except Exception:
                    log.warning("delivery log not written; trying again", exc_info=True)
                    self._queue(batch, front=True)
                    return
                # Written, or refused for good (a line Elasticsearch will never take): either
                # way no longer pending; a refused mark means at most one resend on a replay.
                with self._lock:
                    self._forget(batch)
                if refused:
                    log.error("delivery log lines refused", extra={"lines": len(refused)})

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
