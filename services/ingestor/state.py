"""What the ingestor already produced, on disk (SQLite), so restarts never re-produce.

An article id is written only after Kafka acknowledged the article.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (article_id TEXT PRIMARY KEY, produced_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, last_success REAL
);
-- Items whose later versions matter (Telegram posts, official sources): the last version
-- produced, so an edit or a withdrawal is seen. `position` orders items within their source
-- (a post id, a publication time) to tell "vanished" from "scrolled out of the listing".
CREATE TABLE IF NOT EXISTS items (
    article_id TEXT PRIMARY KEY, source TEXT NOT NULL, position REAL,
    content_hash TEXT, version INTEGER NOT NULL, first_seen REAL NOT NULL,
    withdrawn_at REAL, article TEXT
);
CREATE INDEX IF NOT EXISTS items_by_source ON items (source, position);
-- Source health: one row per source, and the times it last brought new items.
CREATE TABLE IF NOT EXISTS source_health (
    source TEXT PRIMARY KEY, last_attempt REAL, last_success REAL, last_item REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, flagged TEXT
);
CREATE TABLE IF NOT EXISTS source_arrivals (source TEXT NOT NULL, at REAL NOT NULL, items INTEGER);
CREATE INDEX IF NOT EXISTS arrivals_by_source ON source_arrivals (source, at);
"""


@dataclass
class ItemRecord:
    article_id: str
    source: str
    position: float | None
    content_hash: str | None
    version: int
    first_seen: float
    withdrawn_at: float | None
    article: str | None  # the last version's RawArticle JSON (None once out of the window)


@dataclass
class HealthRow:
    source: str
    last_attempt: float | None = None
    last_success: float | None = None
    last_item: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    flagged: str | None = None


class IngestState:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def seen(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(article_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id FROM seen WHERE article_id IN ({marks})", chunk
                )
                found.update(r[0] for r in rows)
        return found

    def is_seen(self, article_id: str) -> bool:
        return bool(self.seen([article_id]))

    def mark_seen(self, article_ids: Iterable[str]) -> None:
        now = time.time()
        rows = [(a, now) for a in article_ids]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

    def seen_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def file_unchanged(self, path: Path, size: int, mtime_ns: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT size, mtime_ns FROM files WHERE path = ?", (str(path),)
            ).fetchone()
        return row is not None and row[0] == size and row[1] == mtime_ns

    def file_fingerprints(self, root: Path) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of every remembered file under root, in one query."""
        low = str(root)
        with self._lock:
            rows = self._db.execute(
                "SELECT path, size, mtime_ns FROM files WHERE path >= ? AND path <= ?",
                (low, low + "\U0010ffff"),
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def mark_files(self, entries: Iterable[tuple[Path, int, int]]) -> None:
        rows = [(str(p), s, m) for p, s, m in entries]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def feed_validators(self, url: str) -> tuple[str | None, str | None]:
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified FROM feeds WHERE url = ?", (url,)
            ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_feed(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO feeds VALUES (?, ?, ?, ?)",
                (url, etag, last_modified, time.time()),
            )

    # -- item versions ----------------------------------------------------------------------
    def items(self, article_ids: Iterable[str]) -> dict[str, ItemRecord]:
        ids = list(dict.fromkeys(article_ids))
        found: dict[str, ItemRecord] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT * FROM items WHERE article_id IN ({marks})", chunk)
                found.update((r[0], ItemRecord(*r)) for r in rows)
        return found

    def recent_items(self, source: str, since: float) -> list[ItemRecord]:
        """Items of a source first seen after `since`, not withdrawn, oldest position first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM items WHERE source = ? AND first_seen >= ? AND withdrawn_at IS NULL"
                " ORDER BY position",
                (source, since),
            ).fetchall()
        return [ItemRecord(*r) for r in rows]

    def max_position(self, source: str) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT max(position) FROM items WHERE source = ?", (source,)
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def save_items(self, records: Iterable[ItemRecord]) -> None:
        rows = [
            (
                r.article_id,
                r.source,
                r.position,
                r.content_hash,
                r.version,
                r.first_seen,
                r.withdrawn_at,
                r.article,
            )
            for r in records
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?)", rows)
            self._db.execute("COMMIT")

    def forget_item_texts(self, before: float) -> None:
        """Texts are kept only while items may still change: the rows stay (ids, positions)."""
        with self._lock:
            self._db.execute(
                "UPDATE items SET article = NULL WHERE first_seen < ? AND article IS NOT NULL",
                (before,),
            )

    # -- source health ------------------------------------------------------------------------
    def health(self, source: str) -> HealthRow:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM source_health WHERE source = ?", (source,)
            ).fetchone()
        return HealthRow(*row) if row else HealthRow(source=source)

    def all_health(self) -> dict[str, HealthRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM source_health").fetchall()
        return {r[0]: HealthRow(*r) for r in rows}

    def save_health(self, row: HealthRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO source_health VALUES (?,?,?,?,?,?,?)",
                (
                    row.source,
                    row.last_attempt,
                    row.last_success,
                    row.last_item,
                    row.consecutive_failures,
                    row.last_error,
                    row.flagged,
                ),
            )

    def add_arrival(self, source: str, at: float, items: int, keep: int = 200) -> None:
        """A poll that brought new items; only the latest `keep` per source are kept."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT INTO source_arrivals VALUES (?, ?, ?)", (source, at, items))
            self._db.execute(
                "DELETE FROM source_arrivals WHERE source = ? AND at < coalesce(("
                "SELECT at FROM source_arrivals WHERE source = ? ORDER BY at DESC"
                " LIMIT 1 OFFSET ?), 0)",
                (source, source, keep - 1),
            )
            self._db.execute("COMMIT")

    def arrivals(self, source: str) -> list[tuple[float, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, items FROM source_arrivals WHERE source = ? ORDER BY at", (source,)
            ).fetchall()
        return [(float(r[0]), int(r[1])) for r in rows]
