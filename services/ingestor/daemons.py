"""The ingestor's daemons: the poller (every source on its own interval) and the folder watcher.
Each runs until its stop event is set; one source or folder that fails never stops the others.
The wiring of one ingest (fetch, parse, produce) is `Ingestor` in app.py.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from schemas.common import SourceKind
from services.ingestor.app import Ingestor
from services.ingestor.health import SourceHealth
from services.ingestor.metrics import SOURCE_FAILURES
from services.ingestor.sources import SourceEntry

log = logging.getLogger(__name__)


def jittered(interval_s: float, jitter: float) -> float:
    return interval_s * (1 + random.uniform(-jitter, jitter))


def _isolated_failure(
    failing: dict[str, str], key: str, kind: str, exc: Exception, message: str
) -> None:
    """Count a failure of one source; the traceback is logged the first time a source
    fails this way, then one line per poll (a broken feed must not flood the log)."""
    error = type(exc).__name__
    SOURCE_FAILURES.labels(kind, error).inc()
    if failing.get(key) == error:
        log.warning(message, extra={"source": key[:500], "error": repr(exc)[:300]})
    else:
        log.exception(message, extra={"source": key[:500]})
        failing[key] = error


def poll_entry(ingestor: Ingestor, entry: SourceEntry) -> None:
    """One poll of one source of the sources file (raises what the adapter raised)."""
    if entry.kind == SourceKind.SITEMAP:
        ingestor.poll_sitemap(entry.url, entry.info())
    elif entry.kind == SourceKind.PAGE:
        ingestor.ingest_page(entry.url, entry.info())
        ingestor.flush()
    elif entry.kind == SourceKind.TELEGRAM:
        ingestor.poll_telegram(entry.url, entry.info(), official=entry.official)
    else:
        ingestor.poll_feed(entry.url, entry.info(), official=entry.official)


class Poller:
    """Polls every enabled source on its own interval (with jitter) until stopped. One
    source that fails, whatever the error, is counted and retried at its next interval;
    the others are polled as usual. Each poll's outcome feeds the source's health."""

    def __init__(
        self,
        ingestor: Ingestor,
        entries: Iterable[SourceEntry],
        stop: threading.Event,
        health: SourceHealth | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.entries = [e for e in entries if e.enabled]
        self.stop = stop
        self.next_due: dict[str, float] = {}
        self.alive = True
        self.failing: dict[str, str] = {}  # source url -> error type of its last failure
        self.health = health or SourceHealth(ingestor.state, ingestor.settings)

    def poll_one(self, entry: SourceEntry) -> None:
        worker = self.ingestor
        produced = worker.sink.produced
        worker.current_source, worker.source_error = entry.url, None
        error: str | None = None
        try:
            poll_entry(worker, entry)
        except Exception as exc:  # noqa: BLE001 - one source must not stop the others
            _isolated_failure(self.failing, entry.url, entry.kind.value, exc, "poll failed")
            error = type(exc).__name__
        else:
            self.failing.pop(entry.url, None)
            error = worker.source_error
        finally:
            worker.current_source = None
        try:
            self.health.record(entry.url, error, worker.sink.produced - produced)
        except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop polling
            _isolated_failure(self.failing, "(health)", "health", exc, "health update failed")

    def run(self) -> None:
        settings = self.ingestor.settings
        now = time.monotonic()
        for entry in self.entries:  # spread the first round over a minute
            self.next_due[entry.url] = now + random.uniform(0, min(60.0, settings.poll_interval_s))
        try:
            while not self.stop.is_set():
                try:
                    self.run_due(time.monotonic())
                except Exception as exc:  # noqa: BLE001 - the loop itself must not die
                    _isolated_failure(self.failing, "(poller)", "poll", exc, "poll round failed")
                self.stop.wait(1.0)
        finally:
            self.alive = False

    def run_due(self, now: float) -> None:
        settings = self.ingestor.settings
        for entry in self.entries:
            if self.stop.is_set() or self.next_due.get(entry.url, 0.0) > now:
                continue
            self.poll_one(entry)
            # due again at its interval even when this poll failed: no hot loop on a bad source
            interval = entry.poll_interval_s or settings.poll_interval_s
            self.next_due[entry.url] = time.monotonic() + jittered(interval, settings.poll_jitter)


class FolderWatcher:
    """Picks up new and changed files in the watched folders; a folder whose scan fails is
    counted and scanned again next time, the other folders go on."""

    def __init__(self, ingestor: Ingestor, folders: list[Path], stop: threading.Event) -> None:
        self.ingestor = ingestor
        self.folders = folders
        self.stop = stop
        self.alive = True
        self.failing: dict[str, str] = {}

    def scan_once(self) -> None:
        for folder in self.folders:
            try:
                if folder.exists():
                    self.ingestor.ingest_path(folder, settle_s=self.ingestor.settings.file_settle_s)
            except Exception as exc:  # noqa: BLE001 - one folder must not stop the others
                _isolated_failure(self.failing, str(folder), "folder", exc, "folder scan failed")
            else:
                self.failing.pop(str(folder), None)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.scan_once()
                except Exception as exc:  # noqa: BLE001 - the loop itself must not die
                    _isolated_failure(self.failing, "(watcher)", "folder", exc, "scan failed")
                self.stop.wait(self.ingestor.settings.watch_interval_s)
        finally:
            self.alive = False
