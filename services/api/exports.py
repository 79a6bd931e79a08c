"""`GET /v1/export`: every report a search matches, streamed as CSV, JSON Lines, GeoJSON or an
ACLED-shaped CSV (services/search/export.py pages it over a point in time).

The same query parameters as `/v1/search`. What one request may cost is bounded by the settings
(`CWATCH_EXPORT_MAX_ROWS`, `CWATCH_EXPORT_TIME_BUDGET_S`; at most
`CWATCH_EXPORT_MAX_CONCURRENT` at once per process and `CWATCH_EXPORT_MAX_PER_USER` per user,
whichever tokens or sessions they use, 429 beyond) and said in the response headers
before the first byte: how many reports match, how many will be sent, and whether the row cap
cuts the export. A response the time budget cuts, or that fails halfway, is aborted (no final
chunk), so a client never takes a partial file for a whole one.

An export is security-relevant (the whole index can leave in one request): each is written to
the audit log (`export`: who, the search, how many reports it will send) when it starts, and
logged with what was sent when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from services.api.auth import Viewer, client_of, require
from services.api.search import Params, _answer
from services.common.auth.accounts import Accounts
from services.common.auth.models import Principal
from services.common.auth.roles import Role
from services.query.exports import FORMATS
from services.search.export import Export, ExportIncomplete, ExportLimits
from services.search.settings import SearchSettings

router = APIRouter(prefix="/v1", tags=["exports"], dependencies=[Depends(require(Role.VIEWER))])
log = logging.getLogger(__name__)


class ExportCut(RuntimeError):
    """Raised after the last chunk of a response the time budget cut: aborts the transfer."""


class ExportSlots:
    """How many exports one process streams at once, in all and per user: each holds a point
    in time and keeps Elasticsearch busy page after page for minutes."""

    def __init__(self, size: int, per_user: int) -> None:
        self.size, self.per_user = size, per_user
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # user -> exports running

    def take(self, user: str) -> Callable[[], None] | str:
        """A release function (safe to call more than once), or why there is no slot."""
        with self._lock:
            if sum(self._running.values()) >= self.size:
                return f"{self.size} exports are running already (CWATCH_EXPORT_MAX_CONCURRENT)"
            if self._running.get(user, 0) >= self.per_user:
                return f"you run {self.per_user} exports already (CWATCH_EXPORT_MAX_PER_USER)"
            self._running[user] = self._running.get(user, 0) + 1
        released = [False]

        def release() -> None:
            with self._lock:
                if not released[0]:
                    released[0] = True
                    left = self._running.get(user, 1) - 1
                    if left > 0:
                        self._running[user] = left
                    else:
                        self._running.pop(user, None)

        return release


def _slots(request: Request, settings: SearchSettings) -> ExportSlots:
    slots = getattr(request.app.state, "export_slots", None)
    if slots is None:
        slots = request.app.state.export_slots = ExportSlots(
            settings.export_max_concurrent, settings.export_max_per_user
        )
    assert isinstance(slots, ExportSlots)
    return slots


def _stream(export: Export, release: Callable[[], None], user: str) -> Iterator[bytes]:
    try:
        for chunk in export.chunks():
            if chunk:
                yield chunk.encode("utf-8", "replace")
    finally:
        release()
        log.info("export ended", extra={"user": user, **export.summary()})
    if export.stopped == "time_budget":
        log.warning("export cut by its time budget", extra=export.summary())
        raise ExportCut(
            f"export stopped after {export.read} of {export.expected} reports: time budget "
            f"of {export.limits.time_budget_s:g} s"
        )


def _audit(request: Request, principal: Principal, job: Export, query: str | None) -> None:
    """Who exported what, before the first byte (a transfer cut short still took data). An
    export the audit log cannot record does not start (the store's error answers 503)."""
    accounts: Accounts = request.app.state.accounts
    detail = {"format": job.format.name, "query": (query or "")[:200] or None}
    accounts.audit(
        "export",
        principal.user,
        credential=principal.credential,
        client=client_of(request),
        matched=job.total,
        reports=job.expected,
        **detail,
    )
    log.info(
        "export started",
        extra={"user": principal.user, "matched": job.total, "reports": job.expected, **detail},
    )


def export_headers(export: Export, filename: str) -> dict[str, str]:
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Cwatch-Export-Matched": str(export.total),
        "X-Cwatch-Export-Reports": str(export.expected),
        "X-Cwatch-Export-Max-Rows": str(export.limits.max_rows),
        "X-Cwatch-Export-Time-Budget-S": f"{export.limits.time_budget_s:g}",
    }
    if export.total > export.limits.max_rows:
        headers["X-Cwatch-Export-Truncated"] = "max_rows"
    return headers


@router.get(
    "/export",
    summary="Every report a search matches, as CSV, JSON Lines, GeoJSON or ACLED-shaped CSV",
    response_class=StreamingResponse,
)
def export(
    request: Request,
    principal: Viewer,
    params: Params,
    format: Annotated[  # noqa: A002 - the parameter's name on the wire
        str, Query(description=f"One of: {', '.join(FORMATS)}")
    ] = "csv",
    max_rows: Annotated[
        int | None, Query(ge=1, description="Fewer reports than the server's cap")
    ] = None,
) -> StreamingResponse:
    settings: SearchSettings = request.app.state.settings
    limits = ExportLimits(
        max_rows=min(max_rows or settings.export_max_rows, settings.export_max_rows),
        time_budget_s=settings.export_time_budget_s,
    )
    release = _slots(request, settings).take(principal.user)
    if isinstance(release, str):
        raise HTTPException(
            status_code=429,
            detail=f"{release}; try again when one has ended",
            headers={"Retry-After": "30"},
        )
    try:
        with _answer("export"):
            job = Export(request.app.state.es, settings.index_alias, params, format, limits).open()
            try:
                _audit(request, principal, job, params.q)
            except BaseException:
                job.close()
                raise
    except ExportIncomplete as exc:
        release()
        raise HTTPException(status_code=503, detail=f"{exc}; try again") from None
    except BaseException:
        release()
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"cwatch-export-{stamp}-{job.format.name}.{job.format.extension}"
    return StreamingResponse(
        _stream(job, release, principal.user),
        media_type=job.format.media_type,
        headers=export_headers(job, filename),
        # a client gone before the first chunk never starts the stream: free its slot here
        background=BackgroundTask(release),
    )
