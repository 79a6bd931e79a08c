"""The HTTP application: the search router plus health, readiness and metrics.

Other services add their routers with `create_app(settings, routers=[...])` (or
`app.include_router` afterwards); they find the Elasticsearch client and settings on
`app.state.es` and `app.state.settings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.search.api import router as search_router
from services.search.service import SearchService
from services.search.settings import SearchSettings


def make_es(settings: SearchSettings) -> Elasticsearch:
    return Elasticsearch(
        settings.elasticsearch_url, request_timeout=settings.search_es_timeout_s, max_retries=1
    )


def _readable(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        got = err.get("input")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" + (f" (got {got!r})" if got else ""))
    return "; ".join(parts) or "invalid request"


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=400, content={"detail": _readable(exc.errors())})


def create_app(
    settings: SearchSettings | None = None,
    es: Elasticsearch | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    settings = settings or SearchSettings()
    es = es or make_es(settings)
    app = FastAPI(
        title="caucasus-watch API",
        version="1",
        description="Search structured reports on the Caucasus conflict, in every language.",
    )
    app.state.settings = settings
    app.state.es = es
    app.state.search_service = SearchService(es, settings.index_alias)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.include_router(search_router)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Elasticsearch reachable and the alias exists")
    def readyz() -> JSONResponse:
        ok, why = app.state.search_service.ready()
        return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, "detail": why})

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode("utf-8"), media_type=CONTENT_TYPE_LATEST)

    return app
