"""The API's browser and abuse protections, wired from its settings (the guards themselves are
in services/common/httpguard.py, shared with the ingestor's push server).

From the outside in: the Host allow-list (DNS rebinding), CORS (only when origins are
configured), per-client rate limits, the body-size limit, CSRF. README: "Browser and abuse
protections".
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from services.api.auth import SESSION_COOKIE
from services.common.httpguard import (
    CSRF_HEADER,
    BodyLimit,
    CsrfGuard,
    HostAllowList,
    RateLimit,
    RateRule,
    allowed_host_names,
)
from services.search.settings import SearchSettings

# Routes whose legitimate bodies are larger than CWATCH_API_MAX_BODY_BYTES: path prefix ->
# (bytes, the setting that says so). None today: subscriptions and logins are small.
BODY_LIMIT_OVERRIDES: dict[str, tuple[int, str]] = {}

SEARCH_PATHS = (r"/v1/search$", r"/v1/facets$", r"/v1/reports/", r"/ui/v1/")
# Authenticated by the signed token in their URL (email unsubscribe links, RFC 8058 one-click).
CSRF_EXEMPT = (r"/v1/subscriptions/[^/]+/unsubscribe$",)
LOGIN_PATHS = (r"/v1/auth/login$",)
LIVE_PATHS = (r"/v1/live$", r"/v1/subscriptions/[^/]+/stream$")


def rate_rules(settings: SearchSettings) -> list[RateRule]:
    return [
        RateRule("search", SEARCH_PATHS, settings.api_rate_search, "CWATCH_API_RATE_SEARCH"),
        # Before the failed-login count shared in Elasticsearch: a flood of logins from one
        # address costs that store nothing (services/common/auth/throttle.py).
        RateRule(
            "login",
            LOGIN_PATHS,
            settings.api_rate_login,
            "CWATCH_API_RATE_LOGIN",
            methods=frozenset({"POST"}),
            by_address=True,
        ),
        RateRule(
            "live stream",
            LIVE_PATHS,
            settings.api_rate_live,
            "CWATCH_API_RATE_LIVE",
            concurrent=settings.api_live_per_client,
            concurrent_setting="CWATCH_API_LIVE_PER_CLIENT",
        ),
    ]


def install_guards(app: FastAPI, settings: SearchSettings) -> None:
    """Add the guards to `app` (Starlette runs the last added first)."""
    app.add_middleware(
        CsrfGuard,
        trusted_origins=settings.api_public_origins,
        setting="CWATCH_API_PUBLIC_ORIGINS",
        exempt=CSRF_EXEMPT,
        session_cookie=SESSION_COOKIE,
    )
    app.add_middleware(
        BodyLimit,
        limit=settings.api_max_body_bytes,
        setting="CWATCH_API_MAX_BODY_BYTES",
        overrides=BODY_LIMIT_OVERRIDES,
    )
    app.add_middleware(RateLimit, rules=rate_rules(settings))
    if settings.api_cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
            allow_credentials=False,  # other sites' scripts use tokens, never the user's cookies
        )
    hosts = allowed_host_names(
        settings.api_allowed_hosts, settings.api_host, settings.api_public_origins
    )
    app.add_middleware(HostAllowList, hosts=hosts, setting="CWATCH_API_ALLOWED_HOSTS")
