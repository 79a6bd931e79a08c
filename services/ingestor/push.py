"""HTTP push: `POST /v1/articles` accepts one JSON article, a batch, or raw HTML with its URL.

202 answers only after Kafka acknowledged every article, so an accepted article is never lost.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.common.auth.models import Principal
from services.common.netguard import UnsafeURL, check_url_text
from services.ingestor.adapters.base import ItemError
from services.ingestor.adapters.page import parse_page
from services.ingestor.push_guard import PushGuard, PushRefused

MAX_BATCH = 1000
# Records with only a URL are fetched one after the other, each under the total fetch
# deadline: a request may not hold the push worker for more than a few of them.
MAX_FETCHED = 20
# A request that is well-formed JSON/HTML but names an unusable URL: 422, not 400.
UNPROCESSABLE = frozenset({"invalid_url"})
PUSH_SOURCE = SourceInfo(name="push", kind=SourceKind.PUSH)
log = logging.getLogger(__name__)


class PushBackend(Protocol):
    def articles_from_records(
        self, records: list[Any], default: SourceInfo
    ) -> list[RawArticle]: ...

    def publish(self, articles: list[RawArticle]) -> tuple[list[str], list[str], list[str]]:
        """(produced ids, duplicate ids, ids not acknowledged in time)."""
        ...


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than limit (checked while reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def make_push_router(
    backend: PushBackend, max_body_bytes: int, guard: PushGuard | None = None
) -> APIRouter:
    """The push route. The daemon always passes a `guard` (tokens, registered sources); without
    one (the parsing tests) every push is accepted as the generic push source."""
    router = APIRouter()
    lock = threading.Lock()  # one batch at a time through the shared sink

    def publish(articles: list[RawArticle]) -> tuple[list[str], list[str], list[str]]:
        with lock:
            return backend.publish(articles)

    @router.post("/v1/articles", status_code=202)
    async def post_articles(request: Request) -> JSONResponse:
        principal: Principal | None = None
        source = PUSH_SOURCE
        if guard is not None:
            try:  # before the body is read: an anonymous caller costs nothing
                principal = guard.principal(request.headers.get("authorization"))
                named = request.query_params.get("source") or request.headers.get("x-cwatch-source")
                source = guard.source(named, principal)
            except PushRefused as exc:
                return _error(exc.status, str(exc))
        mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if mime not in ("application/json", "text/html", "application/xhtml+xml"):
            return _error(
                415,
                f"unsupported content type {mime or '(none)'!r}: send application/json "
                '(one article object, a list, or {"articles": [...]}) or text/html with ?url=',
            )
        body = await _read_limited(request, max_body_bytes)
        if body is None:
            return _error(
                413,
                f"request body larger than the push limit of {max_body_bytes} bytes "
                "(CWATCH_PUSH_MAX_BODY_BYTES): send fewer articles per request, or a big page "
                "as a file with `cwatch ingest`, which cuts it to fit and flags it",
                limit_bytes=max_body_bytes,
            )
        try:
            if mime == "application/json":
                records = _records(body)
                if guard is not None:
                    # Identity comes from the registered source, never from the body.
                    records = [_without_source(r) for r in records]
                    guard.check_urls(source, [r.get("url") for r in records if isinstance(r, dict)])
                articles = await run_in_threadpool(backend.articles_from_records, records, source)
            else:
                if guard is not None:
                    guard.check_urls(source, [request.query_params.get("url")])
                # parsing a page is CPU work: never on the event loop that answers /healthz
                articles = [
                    await run_in_threadpool(_html_article, body, request, guard is None, source)
                ]
            if guard is not None:  # where a fetched URL was redirected to
                guard.check_urls(source, [a.url for a in articles])
        except ItemError as exc:
            status = 422 if exc.error_type in UNPROCESSABLE else 400
            return _error(status, exc.reason, error_type=exc.error_type)
        except PushRefused as exc:
            return _error(exc.status, str(exc))
        if principal is not None and principal.credential:
            articles = [a.model_copy(update={"pushed_by": principal.credential}) for a in articles]
            log.info(
                "articles pushed",
                extra={
                    "user": principal.user,
                    "token": principal.credential,
                    "count": len(articles),
                },
            )
        produced, duplicates, pending = await run_in_threadpool(publish, articles)
        if pending:
            return _error(
                503,
                "Kafka did not acknowledge in time; retry later (duplicates are recognised)",
                pending=pending,
            )
        return JSONResponse(
            {
                "accepted": len(produced),
                "ids": [a.article_id for a in articles],
                "duplicates": duplicates,
            },
            status_code=202,
        )

    return router


def _records(body: bytes) -> list[Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ItemError("invalid_json", f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # `[[[[...` nested deeper than the parser's stack
        raise ItemError("invalid_json", "body is not usable JSON: nested too deeply") from exc
    if isinstance(data, dict) and "articles" in data:
        data = data["articles"]
        if not isinstance(data, list):
            raise ItemError("invalid_record", "'articles' must be a list of article objects")
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        raise ItemError("invalid_record", "send an article object, a list, or {'articles': [...]}")
    if not data:
        raise ItemError("invalid_record", "no articles in the request")
    if len(data) > MAX_BATCH:
        raise ItemError("invalid_record", f"at most {MAX_BATCH} articles per request")
    to_fetch = sum(
        1
        for r in data
        if isinstance(r, dict) and r.get("url") and not (r.get("text") or r.get("html"))
    )
    if to_fetch > MAX_FETCHED:
        raise ItemError(
            "invalid_record",
            f"at most {MAX_FETCHED} articles with only a url per request (each is fetched); "
            f"this one has {to_fetch}: send them in smaller requests or with their text",
        )
    return data


def _without_source(record: Any) -> Any:
    if isinstance(record, dict) and "source" in record:
        return {k: v for k, v in record.items() if k != "source"}
    return record


def _html_article(
    body: bytes, request: Request, name_from_query: bool = True, source: SourceInfo = PUSH_SOURCE
) -> RawArticle:
    url = request.query_params.get("url")
    if not url or not url.startswith(("http://", "https://")):
        raise ItemError("invalid_record", "raw HTML needs its page address: ?url=https://...")
    try:
        check_url_text(url)
    except UnsafeURL as exc:
        raise ItemError("invalid_url", f"?url= is not a usable address: {exc}") from exc
    name = request.query_params.get("source")
    if name and name_from_query:
        source = source.model_copy(update={"name": name[:300]})
    charset = None
    for part in request.headers.get("content-type", "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip()
    return parse_page(body, source=source, url=url, http_charset=charset)
