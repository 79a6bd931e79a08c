"""Wiring: sources -> adapters -> RawSink. Used by the CLI (one shot) and the daemon."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.base import Failure, ItemError
from services.ingestor.adapters.feed import FeedEntry, FeedError, looks_like_feed, parse_feed
from services.ingestor.adapters.files import (
    file_source,
    iter_files,
    read_file,
    record_to_article,
)
from services.ingestor.adapters.page import parse_page
from services.ingestor.adapters.sitemap import (
    SitemapEntry,
    SitemapError,
    looks_like_sitemap,
    parse_sitemap,
)
from services.ingestor.adapters.telegram import (
    ChannelBackend,
    ChannelPage,
    TelegramError,
    WebPreviewBackend,
    channel_from_url,
    post_to_article,
)
from services.ingestor.encoding import GZIP_MAGIC, BinaryContent, gunzip_head
from services.ingestor.history import History, Version
from services.ingestor.http import HTML_TYPES, FetchError, FetchResult, SafeHttpClient
from services.ingestor.metrics import (
    ITEMS_DUPLICATE,
    ITEMS_FETCHED,
    LINKED_PAGE_FAILURES,
    SOURCE_FAILURES,
    SOURCE_LAST_SUCCESS,
)
from services.ingestor.parallel import prepare_files
from services.ingestor.producer import Prepared, RawSink
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState
from services.ingestor.urls import InvalidUrl, article_id_for_url, canonicalize_url

log = logging.getLogger(__name__)

MAX_SITEMAP_CHILDREN = 50
MAX_FAILURES_KEPT = 200


@dataclass
class Summary:
    produced: int = 0
    duplicate: int = 0
    failed: int = 0
    unchanged_files: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "produced": self.produced,
            "duplicate": self.duplicate,
            "failed": self.failed,
            "unchanged_files": self.unchanged_files,
            "failed_by_reason": dict(self.reasons),
            "failures": [{"source": s, "reason": r} for s, r in self.failures],
        }


def url_id(url: str) -> str | None:
    try:
        return article_id_for_url(canonicalize_url(url))
    except InvalidUrl:
        return None


def site_source(url: str, kind: SourceKind) -> SourceInfo:
    parts = urlsplit(url)
    host = parts.hostname or "web"
    return SourceInfo(name=host, kind=kind, url=f"{parts.scheme}://{parts.netloc}")


class Ingestor:
    """One worker: reads sources and hands articles and failures to its own RawSink.
    Not thread-safe; the daemon gives each thread its own Ingestor (they share state and
    the HTTP client)."""

    def __init__(
        self,
        settings: IngestorSettings,
        state: IngestState,
        http: SafeHttpClient | None = None,
        sink: RawSink | None = None,
        progress: Callable[[Summary], None] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.http = http or SafeHttpClient(settings)
        self.sink = sink or RawSink(settings, state)
        self.summary = Summary()
        self.progress = progress
        self.history = History(state)
        self._texts_forgotten_at = 0.0
        # The source being polled, and the error type of its own (not an item's) failure:
        # the poller reads it for the source's health.
        self.current_source: str | None = None
        self.source_error: str | None = None

    # -- the two exits: an article or a failure -----------------------------------------
    def _sync_counts(self) -> None:
        self.summary.produced = self.sink.produced
        if self.progress:
            self.progress(self.summary)

    def emit(
        self,
        article: RawArticle,
        kind: str,
        aliases: tuple[str, ...] = (),
        seen_id: str | None = None,
    ) -> str:
        """Queue an article: 'queued', 'duplicate', or 'failed' (dead-lettered)."""
        ITEMS_FETCHED.labels(kind).inc()
        try:
            fresh = self.sink.submit(article, kind, aliases, seen_id=seen_id)
        except ItemError as exc:
            where = article.url or article.source.url or article.source.name
            payload = article.model_dump_json().encode("utf-8")[:1_000_000]
            self.fail(Failure(where, exc.reason, exc.error_type, payload, article.article_id))
            return "failed"
        if not fresh:
            self.summary.duplicate += 1
        self._sync_counts()
        return "queued" if fresh else "duplicate"

    def fail(self, failure: Failure) -> None:
        if self.current_source is not None and failure.source == self.current_source:
            self.source_error = failure.error_type
        self.sink.dead_letter(failure)
        self.summary.failed += 1
        self.summary.reasons[failure.error_type] += 1
        if len(self.summary.failures) < MAX_FAILURES_KEPT:
            self.summary.failures.append((failure.source, failure.reason))
        self._sync_counts()

    def skip_duplicate(self, kind: str) -> None:
        ITEMS_DUPLICATE.labels(kind).inc()
        self.summary.duplicate += 1
        self._sync_counts()

    def flush(self) -> None:
        self.sink.flush()
        self._sync_counts()

    def _handle(self, item: RawArticle | Failure, kind: str) -> None:
        if isinstance(item, Failure):
            self.fail(item)
        else:
            self.emit(item, kind)

    # -- files ----------------------------------------------------------------------------
    def ingest_path(
        self,
        root: Path,
        source: SourceInfo | None = None,
        only_changed: bool = True,
        settle_s: float = 0.0,
    ) -> None:
        """Every supported file under root; unchanged files (same size and mtime as when
        last fully produced) are skipped. Files are remembered only after the flush."""
        selected: list[tuple[Path, int, int]] = []
        now = time.time()
        known = self.state.file_fingerprints(root) if only_changed else {}
        for path in iter_files(root):
            try:
                st = path.stat()
            except OSError as exc:
                self.fail(Failure(str(path), f"cannot stat file: {exc}", "unreadable_file"))
                continue
            if settle_s and now - st.st_mtime < settle_s:
                continue  # probably still being written; the next scan takes it
            if known.get(str(path)) == (st.st_size, st.st_mtime_ns):
                self.summary.unchanged_files += 1
                continue
            selected.append((path, st.st_size, st.st_mtime_ns))
        kind = SourceKind.FILE.value
        workers = self.settings.file_parser_processes
        results: Iterable[Sequence[Prepared | RawArticle | Failure]]
        if workers > 0 and len(selected) >= self.settings.parallel_min_files:
            results = prepare_files(
                [p for p, _, _ in selected], source, self.sink.limit_bytes, workers
            )
        else:
            results = ([*read_file(p, source=source or file_source(p))] for p, _, _ in selected)
        done: list[tuple[Path, int, int]] = []
        batch: list[Prepared | RawArticle | Failure] = []
        for entry, items in zip(selected, results, strict=True):
            batch.extend(items)
            done.append(entry)
            if len(batch) >= 256:
                self._emit_batch(batch, kind)
                batch = []
            if len(done) >= 1000:
                self._emit_batch(batch, kind)
                batch = []
                self.flush()
                self.state.mark_files(done)
                done = []
        self._emit_batch(batch, kind)
        self.flush()
        self.state.mark_files(done)

    def _emit_batch(self, batch: list[Prepared | RawArticle | Failure], kind: str) -> None:
        """Emit items in order; the produced-before check is one query for the batch."""
        seen = self.state.seen(i.article_id for i in batch if isinstance(i, Prepared))
        for item in batch:
            if isinstance(item, Failure):
                self.fail(item)
            elif isinstance(item, Prepared):
                ITEMS_FETCHED.labels(kind).inc()
                if item.article_id in seen:
                    self.skip_duplicate(kind)
                    continue
                if not self.sink.submit_prepared(item, kind, checked=True):
                    self.summary.duplicate += 1
                self._sync_counts()
            else:
                self.emit(item, kind)

    # -- web --------------------------------------------------------------------------------
    def ingest_url(self, url: str, source: SourceInfo | None = None, kind: str = "auto") -> None:
        """One URL given by a user: a feed, a sitemap or a page (auto-detected), or a
        Telegram channel's preview (kind telegram)."""
        if kind == "feed":
            self.poll_feed(url, source)
        elif kind == "sitemap":
            self.poll_sitemap(url, source)
        elif kind == "page":
            self.ingest_page(url, source)
        elif kind == "telegram":
            src = source or SourceInfo(name=url[:300], kind=SourceKind.TELEGRAM, url=url)
            self.poll_telegram(url, src.model_copy(update={"kind": SourceKind.TELEGRAM}))
        else:
            try:
                result = self.http.get(url, kind="auto")
            except FetchError as exc:
                self.fail(Failure(url, str(exc), exc.reason))
                return
            head = result.body[:4096].lstrip()
            if head.startswith(GZIP_MAGIC):
                try:
                    head = gunzip_head(result.body, 4096)  # the sitemap parser caps the rest
                except BinaryContent as exc:
                    self.fail(Failure(url, str(exc), "bad_gzip"))
                    return
            if looks_like_sitemap(head):
                self._ingest_sitemap_bytes(url, result, source, depth=0)
            elif looks_like_feed(head):
                self._ingest_feed_result(url, result, source)
            else:
                self._ingest_page_result(url, result, source)
        self.flush()

    def ingest_page(
        self, url: str, source: SourceInfo | None = None, hints: dict[str, Any] | None = None
    ) -> None:
        pre = url_id(url)
        if pre and self.sink.is_duplicate(pre):
            self.skip_duplicate(SourceKind.PAGE.value)
            return
        try:
            result = self.http.get(url, accept=HTML_TYPES, kind="page")
        except FetchError as exc:
            self.fail(Failure(url, str(exc), exc.reason))
            return
        self._ingest_page_result(url, result, source, hints)

    def _ingest_page_result(
        self,
        url: str,
        result: FetchResult,
        source: SourceInfo | None,
        hints: dict[str, Any] | None = None,
    ) -> None:
        src = source or site_source(result.final_url, SourceKind.PAGE)
        try:
            article = parse_page(
                result.body,
                source=src,
                url=result.final_url,
                http_charset=result.charset,
                **(hints or {}),
            )
        except ItemError as exc:
            self.fail(Failure(url, exc.reason, exc.error_type, result.body))
            return
        pre = url_id(url)
        self.emit(article, src.kind.value, (pre,) if pre else ())

    def poll_feed(self, url: str, source: SourceInfo | None = None, official: bool = False) -> None:
        """Conditional GET of a feed; validators are saved only once every item is acked.
        `official`: items are versioned (edits, withdrawals; see history.py)."""
        etag, modified = self.state.feed_validators(url)
        try:
            result = self.http.get(url, kind="feed", etag=etag, last_modified=modified)
        except FetchError as exc:
            self.fail(Failure(url, str(exc), exc.reason))
            return
        if result.not_modified:
            SOURCE_LAST_SUCCESS.labels(url).set_to_current_time()
            return
        if self._ingest_feed_result(url, result, source, official):
            self.flush()
            self.state.save_feed(url, result.etag, result.last_modified)
            SOURCE_LAST_SUCCESS.labels(url).set_to_current_time()

    def _unexpected(self, where: str, kind: str, exc: Exception, payload: bytes = b"") -> None:
        """An error no check foresaw (a bug, a library choking on hostile input): this one
        item or source is dead-lettered with the reason, and the caller goes on."""
        SOURCE_FAILURES.labels(kind, type(exc).__name__).inc()
        log.warning(
            "item failed unexpectedly, skipped",
            exc_info=exc,
            extra={"source": where[:500], "kind": kind},
        )
        reason = f"unexpected {type(exc).__name__}: {str(exc)[:500]}"
        self.fail(Failure(where, reason, "internal_error", payload))

    def _ingest_feed_result(
        self, url: str, result: FetchResult, source: SourceInfo | None, official: bool = False
    ) -> bool:
        try:
            parsed = parse_feed(
                result.body,
                source=source,
                feed_url=result.final_url,
                http_charset=result.charset,
                max_bytes=self.settings.http_max_body_bytes * 4,
            )
        except FeedError as exc:
            self.fail(Failure(url, exc.reason, exc.error_type, result.body))
            return False
        except Exception as exc:  # noqa: BLE001 - one feed, never the poll loop
            self._unexpected(url, "feed", exc, result.body)
            return False
        for failure in parsed.failures:
            self.fail(failure)
        if official:
            # an item that failed this time is not gone: no withdrawal is judged then
            self._official_feed(url, parsed.entries, judge_withdrawals=not parsed.failures)
            return True
        for entry in parsed.entries:
            try:
                self._feed_entry(entry.article, entry.link, entry.full_text)
            except Exception as exc:  # noqa: BLE001 - one item, never the rest of the feed
                payload = entry.article.model_dump_json().encode("utf-8")[:1_000_000]
                self._unexpected(entry.link or url, "feed_item", exc, payload)
        return True

    def _feed_entry(self, article: RawArticle, link: str | None, full_text: bool) -> None:
        original_id = article.article_id
        if self.sink.is_duplicate(original_id):
            self.skip_duplicate(SourceKind.FEED.value)
            return
        if not full_text and link and self.settings.fetch_linked_pages:
            article = self._with_linked_page(article, link)
        self.emit(article, SourceKind.FEED.value, (original_id,))

    def _official_feed(
        self, url: str, entries: list[FeedEntry], judge_withdrawals: bool = True
    ) -> None:
        """Feed items of an official source, versioned: an item whose text changed is its
        next version, a recent item gone from the feed while older ones are still listed
        is withdrawn."""
        pairs = [
            (e.article, e.article.published.timestamp() if e.article.published else None)
            for e in entries
        ]
        by_id = {e.article.article_id: e for e in entries}
        versions = self.history.versions(url, pairs)
        for version in versions:
            entry = by_id[version.article.article_id]
            try:
                article = version.article
                if not entry.full_text and entry.link and self.settings.fetch_linked_pages:
                    page = self._with_linked_page(entry.article, entry.link)
                    # one item keeps one id whatever page it redirects to: its versions
                    # must land on the same report
                    article = page.model_copy(
                        update={
                            "article_id": article.article_id,
                            "version": article.version,
                            "edited_at": article.edited_at,
                            "diff": article.diff,
                        }
                    )
                self.emit(article, SourceKind.FEED.value, seen_id=version.seen_id)
            except Exception as exc:  # noqa: BLE001 - one item, never the rest of the feed
                payload = version.article.model_dump_json().encode("utf-8")[:1_000_000]
                self._unexpected(entry.link or url, "feed_item", exc, payload)
        dated = [p for _, p in pairs if p is not None]
        oldest = min(dated) if dated and judge_withdrawals else None
        gone = self.history.withdrawals(
            url,
            {a.article_id for a, _ in pairs},
            lambda r: oldest is not None and r.position is not None and r.position >= oldest,
            self.settings.history_window_s,
        )
        self._emit_versions(gone, SourceKind.FEED.value)
        self.history.commit([*versions, *gone], self.sink.flush())
        self._forget_old_texts()

    def _forget_old_texts(self) -> None:
        """Texts kept for diffs and withdrawals are dropped once out of the window (hourly)."""
        now = time.time()
        if now - self._texts_forgotten_at >= 3600:
            self._texts_forgotten_at = now
            self.state.forget_item_texts(now - self.settings.history_window_s)

    def _emit_versions(self, versions: list[Version], kind: str) -> None:
        for version in versions:
            self.emit(version.article, kind, seen_id=version.seen_id)

    # -- Telegram ------------------------------------------------------------------------------
    def telegram_backend(self, url: str) -> ChannelBackend:
        """The public web preview at the entry's own host (t.me, or a loopback in tests)."""
        parts = urlsplit(url)

        def fetch(page_url: str) -> tuple[bytes, str | None, str]:
            result = self.http.get(page_url, accept=HTML_TYPES, kind="telegram")
            return result.body, result.charset, result.final_url

        return WebPreviewBackend(fetch=fetch, base=f"{parts.scheme}://{parts.netloc}")

    def poll_telegram(
        self,
        url: str,
        source: SourceInfo,
        official: bool = False,
        backend: ChannelBackend | None = None,
    ) -> None:
        """A channel's newest posts; the first time, up to `telegram_backfill_pages` pages
        back; later, back to the newest post already produced (and, for an official
        channel, to its oldest recent post, to re-check it). Posts are versioned."""
        channel = channel_from_url(url)
        if channel is None:
            self.fail(Failure(url, f"not a Telegram channel URL: {url[:200]!r}", "invalid_url"))
            return
        backend = backend or self.telegram_backend(url)
        settings = self.settings
        known = self.state.max_position(url)
        target = known
        if official:
            recent = self.state.recent_items(url, time.time() - settings.history_window_s)
            positions = [r.position for r in recent if r.position is not None]
            if positions:
                target = min(positions) if target is None else min(target, min(positions))
        limit = (
            settings.telegram_backfill_pages if known is None else settings.telegram_catchup_pages
        )
        pages = self._channel_pages(url, channel, backend, target, max(1, limit))
        if not pages:
            return
        self._channel_posts(url, source, pages, official)

    def _channel_pages(
        self, url: str, channel: str, backend: ChannelBackend, target: float | None, limit: int
    ) -> list[ChannelPage]:
        pages: list[ChannelPage] = []
        before: int | None = None
        for _ in range(limit):
            try:
                page = backend.page(channel, before)
            except (FetchError, TelegramError) as exc:
                error_type = exc.reason if isinstance(exc, FetchError) else exc.error_type
                where = url if not pages else f"{url}?before={before}"
                self.fail(Failure(where, str(exc), error_type))
                break  # the pages already read are still good
            pages.append(page)
            ids = [p.post_id for p in page.posts]
            done = target is not None and (not ids or min(ids) <= target)
            if done or page.before is None or (before is not None and page.before >= before):
                break
            before = page.before
        return pages

    def _channel_posts(
        self, url: str, source: SourceInfo, pages: list[ChannelPage], official: bool
    ) -> None:
        kind = SourceKind.TELEGRAM.value
        posts = {p.post_id: (p, page.title) for page in pages for p in page.posts}
        pairs: list[tuple[RawArticle, float | None]] = []
        for page in pages:
            for where, error_type, reason, payload in page.failures:
                self.fail(Failure(f"{url}#{where}", reason, error_type, payload))
        for post_id in sorted(posts):
            post, title = posts[post_id]
            try:
                pairs.append((post_to_article(post, source, title), float(post_id)))
            except ItemError as exc:
                self.fail(Failure(post.permalink, exc.reason, exc.error_type))
            except Exception as exc:  # noqa: BLE001 - one post, never the channel
                self._unexpected(post.permalink, "telegram_item", exc)
        versions = self.history.versions(url, pairs)
        self._emit_versions(versions, kind)
        gone: list[Version] = []
        if official:
            spans = [(min(p.ids), max(p.ids)) for p in pages if p.ids]
            listed = {i for p in pages for i in p.ids}
            gone = self.history.withdrawals(
                url,
                set(),
                lambda r: (
                    r.position is not None
                    and int(r.position) not in listed
                    and any(low <= r.position <= high for low, high in spans)
                ),
                self.settings.history_window_s,
            )
            self._emit_versions(gone, kind)
        self.history.commit([*versions, *gone], self.sink.flush())
        self._forget_old_texts()
        self._sync_counts()

    def _with_linked_page(self, article: RawArticle, link: str) -> RawArticle:
        """The item's page when it can be fetched; else the item as the feed gave it."""
        try:
            result = self.http.get(link, accept=HTML_TYPES, kind="page")
            return parse_page(
                result.body,
                source=article.source,
                url=result.final_url,
                http_charset=result.charset,
                title=article.title,
                published=article.published,
                language_hint=article.language_hint,
                authors=article.authors,
                categories=article.categories,
                feed_title=article.feed_title,
            )
        except FetchError as exc:
            reason = exc.reason
        except ItemError as exc:
            reason = exc.error_type
        LINKED_PAGE_FAILURES.labels(reason).inc()
        log.info(
            "linked page unavailable, using the feed summary", extra={"url": link, "reason": reason}
        )
        return article

    def poll_sitemap(self, url: str, source: SourceInfo | None = None, depth: int = 0) -> None:
        try:
            result = self.http.get(url, kind="sitemap")
        except FetchError as exc:
            self.fail(Failure(url, str(exc), exc.reason))
            return
        self._ingest_sitemap_bytes(url, result, source, depth)
        self.flush()
        SOURCE_LAST_SUCCESS.labels(url).set_to_current_time()

    def _ingest_sitemap_bytes(
        self, url: str, result: FetchResult, source: SourceInfo | None, depth: int
    ) -> None:
        try:
            parsed = parse_sitemap(
                result.body,
                http_charset=result.charset,
                max_urls=self.settings.sitemap_max_urls,
                max_bytes=self.settings.http_max_body_bytes * 4,  # .xml.gz: capped while inflating
            )
        except SitemapError as exc:
            self.fail(Failure(url, exc.reason, exc.error_type, result.body))
            return
        except Exception as exc:  # noqa: BLE001 - one sitemap, never the poll loop
            self._unexpected(url, "sitemap", exc, result.body)
            return
        for failure in parsed.failures:
            self.fail(failure)
        if depth < 2:
            for child in parsed.children[:MAX_SITEMAP_CHILDREN]:
                try:
                    self.poll_sitemap(child, source, depth + 1)
                except Exception as exc:  # noqa: BLE001 - one child, never its siblings
                    self._unexpected(child, "sitemap", exc)
        for entry in parsed.entries:
            try:
                self._sitemap_entry(url, entry, source)
            except Exception as exc:  # noqa: BLE001 - one page, never the rest
                self._unexpected(entry.url, "sitemap_item", exc)

    def _sitemap_entry(self, url: str, entry: SitemapEntry, source: SourceInfo | None) -> None:
        src = source or SourceInfo(
            name=(entry.publication or urlsplit(url).hostname or "sitemap")[:300],
            kind=SourceKind.SITEMAP,
            url=url,
            language=entry.language if entry.language and len(entry.language) <= 8 else None,
        )
        self.ingest_page(
            entry.url,
            src,
            hints={
                "title": entry.title,
                "published": entry.published,
                "language_hint": entry.language,
            },
        )

    # -- push --------------------------------------------------------------------------------
    def articles_from_records(self, records: list[Any], default: SourceInfo) -> list[RawArticle]:
        """Pushed JSON objects as articles; a record with only a URL is fetched. Raises
        ItemError naming the first bad record (nothing is produced from a bad batch)."""
        articles: list[RawArticle] = []
        for position, record in enumerate(records):
            try:
                if (
                    isinstance(record, dict)
                    and record.get("url")
                    and not (record.get("text") or record.get("html"))
                ):
                    result = self.http.get(str(record["url"]), accept=HTML_TYPES, kind="push")
                    source = default
                    if record.get("source") is not None:
                        source = record_to_article(
                            {"title": "x", "source": record["source"]}, default
                        ).source
                    articles.append(
                        parse_page(
                            result.body,
                            source=source,
                            url=result.final_url,
                            http_charset=result.charset,
                            title=record.get("title"),
                        )
                    )
                else:
                    articles.append(record_to_article(record, default))
            except FetchError as exc:
                raise ItemError(exc.reason, f"article {position}: {exc}") from exc
            except ItemError as exc:
                raise ItemError(exc.error_type, f"article {position}: {exc.reason}") from exc
        return articles

    def publish(self, articles: list[RawArticle]) -> tuple[list[str], list[str], list[str]]:
        """Produce pushed articles and wait for the acks: (produced, duplicates, unacked).
        An article that fails on the way is dead-lettered and reported as unacked."""
        produced: list[str] = []
        duplicates: list[str] = []
        failed: list[str] = []
        for article in articles:
            status = self.emit(article, SourceKind.PUSH.value)
            {"queued": produced, "duplicate": duplicates}.get(status, failed).append(
                article.article_id
            )
        pending = self.sink.flush(timeout_s=self.settings.push_ack_timeout_s) | set(failed)
        return [p for p in produced if p not in pending], duplicates, sorted(pending)

    def close(self) -> None:
        self.sink.close()
