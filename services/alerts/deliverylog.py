"""The delivery log, written in the background and in bulk: the log is for people and must not
add a round trip per alert to the alert path (nor let a slow Elasticsearch stall it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from services.alerts.store import AlertStore

log = logging.getLogger(__name__)

MAX_PENDING = 100_000  # lines kept while the store is away; older ones are dropped


class DeliveryLogWriter:
    """Writes delivery log lines in the background, in bulk: the log is for people and must
    not add a round trip per alert to the alert path."""

    def __init__(self, store: AlertStore, interval_s: float = 0.5) -> None:
        self.store = store
        self.interval_s = interval_s
        self._pending: list[tuple[str, str, str, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery-log", daemon=True)
        self._thread.start()

    def add(self, items: Sequence[tuple[str, str]], channel: str, outcome: str) -> None:
        with self._lock:
            self._pending.extend((s, a, channel, outcome) for s, a in items)
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for sub_id, alert_id, channel, outcome in pending:
            groups.setdefault((channel, outcome), []).append((sub_id, alert_id))
        for (channel, outcome), items in groups.items():
            try:
                self.store.log_deliveries(items, channel, outcome)
            except Exception:
                log.exception("delivery log write failed", extra={"lines": len(items)})

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.flush()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.flush()
