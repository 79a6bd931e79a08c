"""The UI's source-health view: each source's health as the ingestor daemon serves it
(`/v1/sources`), fetched by the API so the page talks to one origin. Bounded: one request
with a short timeout and a size cap; an unreachable ingestor is a 503 the page explains."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request

from services.api.auth import SESSION_COOKIE, require
from services.common.auth.roles import Role

# Managing sources is an editor's job; the ingestor answers editors only, so the API forwards
# its caller's credential (token, or web session) rather than holding one of its own.
router = APIRouter(tags=["web"], dependencies=[Depends(require(Role.EDITOR))])

MAX_SOURCES_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 3.0
FLAGGED = ("silent", "failing")
FIELDS = (
    "name",
    "kind",
    "official",
    "enabled",
    "state",
    "last_success",
    "last_item",
    "items_per_day",
    "usual_gap_s",
    "consecutive_failures",
    "last_error",
)


def shape_sources(rows: Any) -> dict[str, Any]:
    """Known fields only, flagged sources (silent, failing) first. Raises ValueError."""
    if not isinstance(rows, list):
        raise ValueError("the ingestor's /v1/sources did not answer a list")
    sources = [{k: row.get(k) for k in FIELDS} for row in rows if isinstance(row, dict)]
    sources.sort(key=lambda s: (s["state"] not in FLAGGED, str(s["name"] or "")))
    flagged = sum(1 for s in sources if s["state"] in FLAGGED)
    return {"sources": sources, "flagged": flagged}


def fetch_sources(base_url: str, authorization: str | None = None) -> Any:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
        with client.stream(
            "GET", f"{base_url.rstrip('/')}/v1/sources", headers=headers
        ) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_SOURCES_BYTES:
                    raise ValueError("the ingestor's answer is too large")
    return json.loads(body)


@router.get("/ui/v1/sources", summary="Each source's health (from the ingestor daemon)")
def ui_sources(request: Request) -> dict[str, Any]:
    base_url = request.app.state.settings.api_ingestor_url
    authorization = request.headers.get("authorization")
    if not authorization and request.cookies.get(SESSION_COOKIE):
        authorization = f"Bearer {request.cookies[SESSION_COOKIE]}"
    try:
        return shape_sources(fetch_sources(base_url, authorization))
    except (httpx.HTTPError, ValueError) as exc:
        raise HTTPException(
            status_code=503,
            detail=f"source health unavailable: the ingestor did not answer ({exc})"[:300],
        ) from None
