"""The whole HTTP application: search API + subscriptions/live feed + web UI, with security
headers on every response (the UI's strict Content-Security-Policy: no inline script)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from elasticsearch import Elasticsearch
from fastapi import FastAPI, Request, Response

from services.alerts.api import install
from services.alerts.api import router as alerts_router
from services.alerts.settings import AlertsSettings
from services.search.app import create_app
from services.search.settings import SearchSettings
from services.web.routes import SECURITY_HEADERS
from services.web.routes import router as web_router


def add_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def create_full_app(
    settings: SearchSettings | None = None,
    es: Elasticsearch | None = None,
    alerts_settings: AlertsSettings | None = None,
) -> FastAPI:
    app = create_app(settings, es, routers=[alerts_router, web_router])
    install(app, alerts_settings)
    add_security_headers(app)
    return app
