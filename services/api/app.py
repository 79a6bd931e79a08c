"""The HTTP process's one composition root: search, reports and stories (`search`),
subscriptions and the live feed (`subscriptions`), the web UI (`ui`), health, readiness and
metrics, with the security headers, the UTF-8 guard and the browser and abuse guards
(`guards`: Host allow-list, CORS, rate limits, body size, CSRF) on every request.

The routers find what they need on `app.state`: the Elasticsearch client (`es`), the settings,
the search service and the alerts state, all built here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from elasticsearch import Elasticsearch
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from services.alerts.settings import AlertsSettings
from services.api.accounts import make_accounts
from services.api.accounts import router as accounts_router
from services.api.auth import OPEN, Viewer, mark_roles, require
from services.api.changes import router as changes_router
from services.api.exports import router as exports_router
from services.api.feeds import router as feeds_router
from services.api.guards import install_guards
from services.api.saved_searches import router as saved_searches_router
from services.api.search import router as search_router
from services.api.sources import router as sources_router
from services.api.subscriptions import install
from services.api.subscriptions import router as subscriptions_router
from services.api.ui import SECURITY_HEADERS
from services.api.ui import router as ui_router
from services.common.auth.authenticator import Authenticator
from services.common.auth.roles import Role
from services.common.es import make_es
from services.search.service import SearchService
from services.search.settings import SearchSettings


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


def invalid_utf8_parameter(query_string: bytes) -> str | None:
    """The name of the first query parameter whose name or value is not UTF-8 once
    percent-decoded, or None. (Starlette would replace the bad bytes by U+FFFD, and a query
    made of them would silently match everything.)"""
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name).decode("utf-8", "replace")
    return None


class RefuseInvalidUtf8:
    """ASGI middleware: a query string that is not UTF-8 gets a 400 that says so."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bad = invalid_utf8_parameter(scope.get("query_string", b""))
            if bad is not None:
                detail = (
                    f"query parameter {bad!r} is not valid UTF-8 once percent-decoded: "
                    "percent-encode the UTF-8 bytes of the text (Л is %D0%9B)"
                )
                await JSONResponse(status_code=400, content={"detail": detail})(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def add_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def create_app(
    settings: SearchSettings | None = None,
    es: Elasticsearch | None = None,
    alerts_settings: AlertsSettings | None = None,
) -> FastAPI:
    """The whole HTTP API; `alerts_settings` default to the search settings' connection."""
    settings = settings or SearchSettings()
    es = es or make_es(settings)
    app = FastAPI(
        title="caucasus-watch API",
        version="1",
        description="Search structured reports on the Caucasus conflict, in every language. "
        "Every operation needs a credential (an API token as `Authorization: Bearer cwt_...`, "
        "or the web UI's session cookie) of the role named in its description "
        "(`x-cwatch-role`): viewer < editor < admin.",
        openapi_url=None,  # served below, behind a login like everything else
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.es = es
    app.state.search_service = SearchService(es, settings.index_alias)
    app.state.accounts = make_accounts(es, settings)
    # None: the explicit local mode without accounts (`cwatch api run` allows it on loopback only)
    app.state.authenticator = (
        Authenticator(app.state.accounts.store, settings.auth_cache_s) if settings.auth_on else None
    )
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_middleware(RefuseInvalidUtf8)
    for router in (
        search_router,
        exports_router,
        subscriptions_router,
        saved_searches_router,
        feeds_router,
        ui_router,
        changes_router,
        sources_router,
        accounts_router,
    ):
        app.include_router(router)

    # Open: a liveness probe (orchestrators, load balancers) has no credential, and the answer
    # says nothing but "the process runs" / "Elasticsearch answers".
    @app.get("/healthz", tags=["ops"], summary="The process is alive", dependencies=[Depends(OPEN)])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Elasticsearch reachable and the alias exists",
        dependencies=[Depends(OPEN)],
    )
    def readyz() -> JSONResponse:
        ok, why = app.state.search_service.ready()
        return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, "detail": why})

    # Metrics name subscriptions and sources' volumes: admins only on this port; Prometheus
    # scrapes the internal metrics port instead (CWATCH_METRICS_PORT, loopback by default).
    @app.get(
        "/metrics",
        tags=["ops"],
        include_in_schema=False,
        dependencies=[Depends(require(Role.ADMIN))],
    )
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode("utf-8"), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(principal: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(principal: Viewer) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    install(app, alerts_settings)
    install_guards(app, settings)
    add_security_headers(app)
    mark_roles(app)
    return app
