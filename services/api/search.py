"""HTTP search API (`/v1/...`). Parameters are checked by `query`, errors answer 400 in words."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.api.auth import require
from services.common.auth.roles import Role
from services.query.params import SearchParams
from services.query.syntax import QueryError
from services.search import metrics
from services.search.service import ReportNotFound, SearchService

# Every search route: viewers and up (declared once, for the whole router).
router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Depends(require(Role.VIEWER))])
log = logging.getLogger(__name__)


def get_service(request: Request) -> SearchService:
    service: SearchService = request.app.state.search_service
    return service


def _split(values: list[str]) -> list[str]:
    """`lang=en&lang=ru` and `lang=en,ru` both work."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@contextmanager
def _answer(endpoint: str) -> Iterator[None]:
    started = time.perf_counter()
    status = "200"
    try:
        yield
    except QueryError as exc:
        status = "400"
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except ReportNotFound as exc:
        status = "404"
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except ApiError as exc:
        status = str(exc.meta.status)
        if exc.meta.status in (400, 404):
            detail = f"the search was refused: {exc.message}"
            raise HTTPException(status_code=400, detail=detail) from None
        # The user gets a short answer; the operator needs Elasticsearch's own words.
        log.warning(
            "search backend error",
            extra={
                "endpoint": endpoint,
                "es_status": exc.meta.status,
                "es_error": str(exc.info)[:2000],
            },
        )
        raise HTTPException(status_code=503, detail="search backend error, try again") from None
    except TransportError as exc:
        status = "503"
        log.warning("search backend unreachable", extra={"endpoint": endpoint, "error": str(exc)})
        raise HTTPException(
            status_code=503, detail="search backend unreachable, try again"
        ) from None
    finally:
        metrics.REQUESTS.labels(endpoint=endpoint, status=status).inc()
        metrics.LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)


def search_params(
    q: Annotated[
        str, Query(description='Words, "phrases", prefix*, AND / OR / NOT, (groups)')
    ] = "",
    lang: Annotated[list[str], Query(description="Language codes (en, ru, hy, az, ...)")] = [],  # noqa: B006
    source: Annotated[list[str], Query(description="Source names")] = [],  # noqa: B006
    country: Annotated[list[str], Query(description="Source countries (ISO alpha-2)")] = [],  # noqa: B006
    affiliation: Annotated[list[str], Query(description="Source affiliations")] = [],  # noqa: B006
    entity: Annotated[list[str], Query(description="Entity ids; every one must be mentioned")] = [],  # noqa: B006
    event: Annotated[list[str], Query(description="Event types")] = [],  # noqa: B006
    figure: Annotated[list[str], Query(description="Figure kinds (killed, displaced, ...)")] = [],  # noqa: B006
    since: Annotated[str | None, Query(description="7d, 24h, 30m or an ISO date")] = None,
    until: Annotated[str | None, Query(description="7d, 24h, 30m or an ISO date")] = None,
    relevant: Annotated[bool | None, Query(description="Only (un)relevant reports")] = None,
    change: Annotated[list[str], Query(description="Statement history: edited, withdrawn")] = [],  # noqa: B006
    pushed_by: Annotated[list[str], Query(description="API token id that pushed the item")] = [],  # noqa: B006
) -> SearchParams:
    return SearchParams(
        q=q,
        languages=_split(lang),
        sources=_split(source),
        countries=_split(country),
        affiliations=_split(affiliation),
        entities=_split(entity),
        event_types=_split(event),
        figure_kinds=_split(figure),
        since=since,
        until=until,
        relevant=relevant,
        changes=_split(change),
        pushed_by=_split(pushed_by),
    )


Service = Annotated[SearchService, Depends(get_service)]
Params = Annotated[SearchParams, Depends(search_params)]


@router.get("/search", summary="Search reports")
def search(
    service: Service,
    params: Params,
    sort: Annotated[str, Query(description="relevance or time (newest first)")] = "relevance",
    size: Annotated[int, Query(description="Hits per page, at most 100")] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    collapse: Annotated[
        bool, Query(description="One hit per story, with its version count")
    ] = False,
    facets: Annotated[bool, Query(description="Also return facets and a date histogram")] = False,
    facet_size: int = 10,
    interval: Annotated[str, Query(description="Histogram: hour, day, week, month, year")] = "day",
    highlight: bool = True,
) -> dict[str, Any]:
    params.sort, params.size, params.cursor, params.collapse = sort, size, cursor, collapse
    params.facets, params.facet_size, params.interval = facets, facet_size, interval
    params.highlight = highlight
    with _answer("search"):
        return service.search(params)
    raise AssertionError("unreachable")


@router.get("/facets", summary="Counts per language, source, entity, event, ... and a histogram")
def facets(
    service: Service,
    params: Params,
    facet_size: int = 10,
    interval: Annotated[str, Query(description="hour, day, week, month, year")] = "day",
) -> dict[str, Any]:
    params.facet_size, params.interval = facet_size, interval
    with _answer("facets"):
        return service.facets(params)
    raise AssertionError("unreachable")


@router.get("/reports/{report_id}", summary="A report with every version of its story")
def report(service: Service, report_id: str) -> dict[str, Any]:
    with _answer("report"):
        return service.report(report_id)
    raise AssertionError("unreachable")


@router.get("/reports/{report_id}/similar", summary="Reports like this one (other stories)")
def similar(service: Service, report_id: str, size: int = 10) -> dict[str, Any]:
    with _answer("similar"):
        return service.similar(report_id, size)
    raise AssertionError("unreachable")
