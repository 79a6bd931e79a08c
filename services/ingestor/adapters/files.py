"""Local files and folders: .html/.htm, .txt, .jsonl and RSS/Atom files."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.base import Failure, ItemError, make_article, parse_datetime
from services.ingestor.adapters.feed import FeedError, parse_feed
from services.ingestor.adapters.page import parse_page
from services.ingestor.encoding import BinaryContent, decode_text

HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
JSONL_SUFFIXES = frozenset({".jsonl"})
FEED_SUFFIXES = frozenset({".rss", ".atom", ".xml"})
SUPPORTED_SUFFIXES = HTML_SUFFIXES | TEXT_SUFFIXES | JSONL_SUFFIXES | FEED_SUFFIXES

Result = RawArticle | Failure
log = logging.getLogger(__name__)


def iter_files(root: Path) -> Iterator[Path]:
    """Supported files under root (or root itself), in a stable order, hidden ones skipped."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path


def file_source(path: Path) -> SourceInfo:
    return SourceInfo(name=path.parent.name or "local files", kind=SourceKind.FILE)


def read_file(
    path: Path, *, source: SourceInfo | None = None, max_bytes: int = 50 << 20
) -> list[Result]:
    """Every article in one file; failures carry the path (and line) and the reason."""
    src = source or file_source(path)
    where = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return [Failure(where, f"file is {size} bytes, limit {max_bytes}", "too_large")]
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat
        if len(data) > max_bytes:
            return [Failure(where, f"file is over the limit of {max_bytes} bytes", "too_large")]
    except OSError as exc:
        return [Failure(where, f"cannot read file: {exc}", "unreadable_file")]
    try:
        return parse_file_bytes(data, suffix=path.suffix.lower(), where=where, source=src)
    except Exception as exc:  # noqa: BLE001 - one file, never the rest of the folder
        log.warning("file failed unexpectedly, skipped", exc_info=exc, extra={"path": where})
        reason = f"unexpected {type(exc).__name__}: {str(exc)[:500]}"
        return [Failure(where, reason, "internal_error", data)]


def parse_file_bytes(data: bytes, *, suffix: str, where: str, source: SourceInfo) -> list[Result]:
    try:
        if suffix in HTML_SUFFIXES:
            return [parse_page(data, source=source)]
        if suffix in TEXT_SUFFIXES:
            return [_text_article(data, source)]
        if suffix in JSONL_SUFFIXES:
            return list(_jsonl_articles(data, where, source))
        if suffix in FEED_SUFFIXES:
            parsed = parse_feed(
                data, source=source.model_copy(update={"kind": SourceKind.FILE}), where=where
            )
            return [e.article for e in parsed.entries] + list(parsed.failures)
    except ItemError as exc:
        return [Failure(where, exc.reason, exc.error_type, data)]
    except FeedError as exc:
        return [Failure(where, exc.reason, exc.error_type, data)]
    return [Failure(where, f"unsupported file type {suffix!r}", "unsupported_file")]


def _text_article(data: bytes, source: SourceInfo) -> RawArticle:
    try:
        text, _ = decode_text(data)
    except BinaryContent as exc:
        raise ItemError("binary_content", str(exc)) from exc
    lines = text.replace("\r\n", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ItemError("empty_item", "text file is empty")
    title = lines[first].strip()
    body = "\n".join(lines[first + 1 :]).strip()
    return make_article(source=source, title=title, text=body or None)


def record_source(value: Any, default: SourceInfo) -> SourceInfo:
    if isinstance(value, str) and value.strip():
        return default.model_copy(update={"name": value.strip()[:300]})
    if isinstance(value, dict):
        return SourceInfo.model_validate({"kind": default.kind, **value})
    return default


def record_to_article(record: Any, default_source: SourceInfo) -> RawArticle:
    """One JSON article (jsonl line or pushed object): url, title, text or html, published,
    source (a name or an object), language, authors, categories."""
    if not isinstance(record, dict):
        raise ItemError("invalid_record", "each article must be a JSON object")
    known = {
        "url",
        "title",
        "text",
        "html",
        "published",
        "source",
        "language",
        "authors",
        "categories",
    }
    unknown = sorted(set(record) - known)
    if unknown:
        raise ItemError("invalid_record", f"unknown fields {unknown}; known: {sorted(known)}")
    for key in ("url", "title", "text", "html", "language"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise ItemError("invalid_record", f"field {key!r} must be a string")
    try:
        source = record_source(record.get("source"), default_source)
    except ValidationError as exc:
        raise ItemError("invalid_record", f"invalid source: {exc.errors()[0]['msg']}") from exc
    published = record.get("published")
    when = parse_datetime(published)
    if published and when is None:
        raise ItemError("invalid_record", f"cannot read published date {str(published)[:50]!r}")
    authors = record.get("authors") or []
    categories = record.get("categories") or []
    if not isinstance(authors, list) or not isinstance(categories, list):
        raise ItemError("invalid_record", "authors and categories must be lists of strings")
    if record.get("html") and not record.get("text"):
        from services.ingestor.adapters.page import article_from_html

        return article_from_html(
            record["html"],
            source=source,
            url=record.get("url"),
            title=record.get("title"),
            published=when,
            language_hint=record.get("language"),
            authors=[str(a) for a in authors],
            categories=[str(c) for c in categories],
        )
    return make_article(
        source=source,
        url=record.get("url"),
        title=record.get("title"),
        text=record.get("text"),
        html=record.get("html"),
        published=when,
        language_hint=record.get("language"),
        authors=[str(a) for a in authors],
        categories=[str(c) for c in categories],
    )


def _jsonl_articles(data: bytes, where: str, source: SourceInfo) -> Iterator[Result]:
    try:
        text, _ = decode_text(data)
    except BinaryContent as exc:
        yield Failure(where, str(exc), "binary_content", data)
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            yield record_to_article(record, source)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield Failure(
                f"{where}:{lineno}", f"invalid JSON: {exc}", "invalid_json", line.encode()
            )
        except ItemError as exc:
            yield Failure(f"{where}:{lineno}", exc.reason, exc.error_type, line.encode())
