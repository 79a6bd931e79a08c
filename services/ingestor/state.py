"""What the ingestor already produced, on disk (SQLite), so restarts never re-produce.

An article id is written only after Kafka acknowledged the article.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (article_id TEXT PRIMARY KEY, produced_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, last_success REAL
);
"""


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
