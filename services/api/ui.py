"""The web UI router: the page, its static files, and a few read-only JSON views the page needs
(highlights as text segments, a story's versions by side, timeline and map aggregations).

Every query is built by `services.query.bodies`, so the UI shows exactly what search finds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.api.auth import OPEN, require
from services.api.highlight import shape
from services.api.search import search_params
from services.common.auth.roles import Role
from services.query.bodies import build_overview, build_story_versions
from services.query.params import SearchParams
from services.query.sides import claims, group_by_side
from services.query.syntax import QueryError
from services.search.service import SearchService

router = APIRouter(tags=["web"])

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "places.json": "application/json",
}
STORY_MAX_VERSIONS = 200


def _static(name: str) -> bytes:
    return resources.files("services.api").joinpath("static", name).read_bytes()


# Open: the page and its static files hold no data; the page shows the login form when its
# first request answers 401. Everything it shows comes from the routes below, which need a login.
@router.get("/", include_in_schema=False, dependencies=[Depends(OPEN)])
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/", include_in_schema=False, dependencies=[Depends(OPEN)])
def page() -> Response:
    return Response(
        _static("index.html"), media_type=STATIC_TYPES["index.html"], headers=SECURITY_HEADERS
    )


@router.get("/ui/static/{name}", include_in_schema=False, dependencies=[Depends(OPEN)])
def static(name: str) -> Response:
    if name not in STATIC_TYPES:  # a fixed list: no path ever reaches the file system
        raise HTTPException(status_code=404, detail="not found")
    return Response(
        _static(name),
        media_type=STATIC_TYPES[name],
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


def _service(request: Request) -> SearchService:
    service: SearchService = request.app.state.search_service
    return service


Service = Annotated[SearchService, Depends(_service)]
Params = Annotated[SearchParams, Depends(search_params)]


def _guard(exc: Exception) -> HTTPException:
    if isinstance(exc, QueryError):
        return HTTPException(status_code=400, detail=str(exc))
    if isinstance(exc, ApiError) and exc.meta.status in (400, 404):
        return HTTPException(status_code=400, detail=f"the search was refused: {exc.message}")
    return HTTPException(status_code=503, detail="search backend unavailable, try again")


@router.get(
    "/ui/v1/search",
    summary="Search for the UI: highlights as text segments",
    dependencies=[Depends(require(Role.VIEWER))],
)
def ui_search(
    service: Service,
    params: Params,
    sort: str = "relevance",
    size: int = 20,
    cursor: str | None = None,
    collapse: bool = False,
) -> dict[str, Any]:
    params.sort, params.size, params.cursor, params.collapse = sort, size, cursor, collapse
    params.facets = True
    try:
        result = service.search(params)
    except (QueryError, ApiError, TransportError) as exc:
        raise _guard(exc) from None
    for hit in result["hits"]:
        hit["highlight_segments"] = shape(hit.pop("highlights", {}) or {})
    return result


@router.get(
    "/ui/v1/story/{story_id}",
    summary="Every version of a story, by side",
    dependencies=[Depends(require(Role.VIEWER))],
)
def ui_story(service: Service, story_id: str) -> dict[str, Any]:
    try:
        # a story merged into another is shown as that one, with all its versions (issue 20)
        story_id, members = service.story_family(story_id)
        raw = service.run(build_story_versions(members, size=STORY_MAX_VERSIONS))
    except (ApiError, TransportError) as exc:
        raise _guard(exc) from None
    versions = [h["_source"] for h in raw["hits"]["hits"]]
    if not versions:
        raise HTTPException(status_code=404, detail=f"no story {story_id!r}")
    entities: dict[str, dict[str, Any]] = {}
    events: dict[str, int] = {}
    for v in versions:
        for e in v.get("entities") or []:
            entry = entities.setdefault(e["id"], {**e, "reports": 0})
            entry["reports"] += 1
        for ev in v.get("event_types") or []:
            events[ev] = events.get(ev, 0) + 1
    return {
        "story_id": story_id,
        "total": len(versions),
        "columns": group_by_side(versions),
        "claims": claims(versions),
        "entities": sorted(entities.values(), key=lambda e: -e["reports"]),
        "events": [
            {"type": k, "reports": n} for k, n in sorted(events.items(), key=lambda x: -x[1])
        ],
    }


@router.get(
    "/ui/v1/overview",
    summary="Timeline per event type and the places mentioned",
    dependencies=[Depends(require(Role.VIEWER))],
)
def ui_overview(
    service: Service,
    params: Params,
    interval: Annotated[str, Query(pattern="^(hour|day|week|month)$")] = "day",
    count: Annotated[str, Query(pattern="^(primary|all)$")] = "primary",
) -> dict[str, Any]:
    """`count=primary` (default) counts each report once, under the event it is about;
    `count=all` under every event type it has."""
    try:
        raw = service.run(build_overview(params, datetime.now(UTC), interval, count))
    except (QueryError, ApiError, TransportError) as exc:
        raise _guard(exc) from None
    aggs = raw.get("aggregations") or {}
    timeline = [
        {
            "event": b["key"],
            "total": b["doc_count"],
            "buckets": [
                {"date": h["key_as_string"], "count": h["doc_count"]}
                for h in b["over_time"]["buckets"]
            ],
        }
        for b in aggs.get("events", {}).get("buckets", [])
    ]
    places = []
    for b in aggs.get("places", {}).get("buckets", []):
        hits = b["sample"]["hits"]["hits"]
        ents = hits[0]["_source"].get("entities", []) if hits else []
        ent = next((e for e in ents if e.get("id") == b["key"]), None)
        if ent and ent.get("lat") is not None and ent.get("lon") is not None:
            places.append(
                {
                    "id": b["key"],
                    "name": ent.get("name"),
                    "lat": ent["lat"],
                    "lon": ent["lon"],
                    "reports": b["doc_count"],
                }
            )
    total = raw["hits"]["total"]["value"]
    return {"total": total, "count": count, "timeline": timeline, "places": places}
