"""Atom feeds of subscriptions and saved searches, read with a per-feed token in the URL.

- `POST /v1/feeds` `{"target": "subscription" | "saved_search", "id": ...}` makes a token and
  answers the feed's URL once (`/feeds/<token>`); `GET /v1/feeds?target=&id=` lists a target's
  feeds (never the secrets); `DELETE /v1/feeds/{feed_id}` revokes one.
- `GET /feeds/{token}`: the newest reports the target's query and filters match, the same
  search as `/v1/search?sort=time`; a subscription that alerts once per story (per_story,
  digest) gets one entry per story, its newest version, updated as the story grows. Anything
  but a valid, unrevoked token is a 404 that says nothing more.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.alerts.models import Mode
from services.api.auth import OPEN, require
from services.api.feedtokens import FeedTarget, FeedTokenStore
from services.api.saved_searches import get_saved_searches
from services.api.subscriptions import get_state
from services.common.auth.roles import Role
from services.query.atom import MEDIA_TYPE, FeedInfo, build_feed
from services.query.bodies import build_search, build_version_counts
from services.query.params import SearchParams
from services.query.syntax import QueryError
from services.search.service import SearchService

router = APIRouter(tags=["feeds"])
FEED_ENTRIES = 50
NO_FEED = "no such feed"


class FeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: FeedTarget
    id: str = Field(min_length=1, max_length=200)


def get_tokens(request: Request) -> FeedTokenStore:
    store = getattr(request.app.state, "feed_tokens", None)
    if store is None:
        store = FeedTokenStore(request.app.state.es, get_state(request).settings.index_prefix())
        request.app.state.feed_tokens = store
    assert isinstance(store, FeedTokenStore)
    return store


Tokens = Annotated[FeedTokenStore, Depends(get_tokens)]


def _target(request: Request, target: FeedTarget, target_id: str) -> tuple[str, SearchParams, bool]:
    """(name, search, one entry per story) of a feed's target; 404 when it is gone."""
    if target == FeedTarget.SUBSCRIPTION:
        try:
            sub = get_state(request).store.get(target_id)
        except ValidationError:
            sub = None
        if sub is None:
            raise HTTPException(status_code=404, detail=f"no subscription with id {target_id!r}")
        return sub.name, sub.search_params(), sub.mode in (Mode.PER_STORY, Mode.DIGEST)
    saved = get_saved_searches(request).get(target_id)
    if saved is None:
        raise HTTPException(status_code=404, detail=f"no saved search with id {target_id!r}")
    return saved.name, saved.search_params(), False


def feed_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/feeds/{token}"


@router.post(
    "/v1/feeds",
    status_code=201,
    dependencies=[Depends(require(Role.VIEWER))],
    summary="A feed URL (with its token) for a target",
)
def create(request: Request, tokens: Tokens, body: FeedRequest) -> dict[str, Any]:
    _target(request, body.target, body.id)
    record, token = tokens.create(body.target, body.id)
    # The token is shown once: only its digest is stored.
    return {**record.public(), "token": token, "url": feed_url(request, token)}


@router.get(
    "/v1/feeds",
    dependencies=[Depends(require(Role.VIEWER))],
    summary="The feeds of a subscription or saved search",
)
def list_feeds(
    tokens: Tokens, target: FeedTarget, id: Annotated[str, Query(max_length=200)]
) -> dict[str, Any]:
    found = tokens.list(target, id)
    return {"total": len(found), "feeds": [t.public() for t in found]}


@router.delete(
    "/v1/feeds/{feed_id}",
    status_code=204,
    dependencies=[Depends(require(Role.VIEWER))],
    summary="Revoke a feed's token",
)
def revoke(tokens: Tokens, feed_id: str) -> Response:
    if not tokens.revoke(feed_id):
        raise HTTPException(status_code=404, detail=f"no feed with id {feed_id!r}")
    return Response(status_code=204)


def _hits(
    service: SearchService, params: SearchParams, per_story: bool
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    now = datetime.now(UTC)
    params.sort, params.size, params.collapse, params.highlight = (
        "time",
        FEED_ENTRIES,
        per_story,
        False,
    )
    hits = service.run(build_search(params, now))["hits"]["hits"]
    versions: dict[str, int] = {}
    stories = [h["_source"]["story_id"] for h in hits if h.get("_source", {}).get("story_id")]
    if per_story and stories:
        counts = service.run(build_version_counts(params, now, stories))
        versions = {b["key"]: b["doc_count"] for b in counts["aggregations"]["versions"]["buckets"]}
    return hits, versions


# Open: feed readers cannot log in; the token in the URL is the credential (revocable).
@router.get(
    "/feeds/{token}",
    dependencies=[Depends(OPEN)],
    summary="Atom feed (the token is the feed's URL)",
)
def feed(request: Request, tokens: Tokens, token: str) -> Response:
    record = tokens.resolve(token)
    if record is None:
        raise HTTPException(status_code=404, detail=NO_FEED)
    name, params, per_story = _target(request, record.target, record.target_id)
    service: SearchService = request.app.state.search_service
    try:
        hits, versions = _hits(service, params, per_story)
    except QueryError as exc:  # saved under older rules
        raise HTTPException(
            status_code=409, detail=f"the feed's search is invalid: {exc}"
        ) from None
    except (ApiError, TransportError):
        raise HTTPException(
            status_code=503, detail="search backend unavailable, try again"
        ) from None
    ui_url = f"{str(request.base_url).rstrip('/')}/ui/"
    info = FeedInfo(
        feed_id=record.feed_id,
        title=f"caucasus-watch: {name or record.target_id}",
        subtitle=(params.q or "every report") + (" (one entry per story)" if per_story else ""),
        self_url=feed_url(request, token),
        ui_url=ui_url,
        per_story=per_story,
    )
    body = build_feed(info, hits, versions=versions)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
