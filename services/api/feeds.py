"""Atom feeds of subscriptions and saved searches, read with a per-feed token in the URL.

- `POST /v1/feeds` `{"target": "subscription" | "saved_search", "id": ...}` makes a token and
  answers the feed's URL once (`/feeds/<token>`); `GET /v1/feeds?target=&id=` lists a target's
  feeds (never the secrets); `DELETE /v1/feeds/{feed_id}` revokes one.
- `GET /feeds/{token}`: the newest reports the target's query and filters match, the same
  search as `/v1/search?sort=time`; a subscription that alerts once per story (per_story,
  digest) gets one entry per story, its newest version, updated as the story grows. Anything
  but a valid, unrevoked token of a target that still exists, whose owner is not disabled, is
  a 404 that says nothing more. Deleting a target deletes its tokens (a target deleted by the
  CLI, which does not know of feeds, loses its tokens at their next read).

A feed belongs to its target's owner: making, listing and revoking the feeds of a target
need owning it (or the admin role, audited); another user's target answers 404.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.alerts.models import Mode
from services.api.auth import OPEN, Viewer, require
from services.api.feedtokens import FeedTarget, FeedTokenStore
from services.api.ownership import audit_admin, owner_active, owns
from services.api.saved_searches import get_saved_searches
from services.api.subscriptions import get_state
from services.common.auth.models import Principal
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
    return get_state(request).feed_tokens


Tokens = Annotated[FeedTokenStore, Depends(get_tokens)]


@dataclass(frozen=True)
class Target:
    name: str
    params: SearchParams
    per_story: bool  # one entry per story
    owner: str | None


def _target(request: Request, target: FeedTarget, target_id: str) -> Target | None:
    """A feed's target; None when it is gone."""
    if target == FeedTarget.SUBSCRIPTION:
        try:
            sub = get_state(request).store.get(target_id) if len(target_id) <= 200 else None
        except ValidationError:
            sub = None
        if sub is None:
            return None
        per_story = sub.mode in (Mode.PER_STORY, Mode.DIGEST)
        return Target(sub.name, sub.search_params(), per_story, sub.owner)
    saved = get_saved_searches(request).get(target_id) if len(target_id) <= 200 else None
    if saved is None:
        return None
    return Target(saved.name, saved.search_params(), False, saved.owner)


def _owned_target(
    request: Request, principal: Principal, target: FeedTarget, target_id: str
) -> Target:
    """The target when `principal` owns it or is an admin; 404 otherwise, as when missing."""
    found = _target(request, target, target_id)
    if found is None or not owns(principal, found.owner):
        what = "subscription" if target == FeedTarget.SUBSCRIPTION else "saved search"
        raise HTTPException(status_code=404, detail=f"no {what} with id {target_id!r}")
    return found


def feed_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/feeds/{token}"


@router.post(
    "/v1/feeds",
    status_code=201,
    dependencies=[Depends(require(Role.VIEWER))],
    summary="A feed URL (with its token) for a target",
)
def create(
    request: Request, tokens: Tokens, principal: Viewer, body: FeedRequest
) -> dict[str, Any]:
    owner = _owned_target(request, principal, body.target, body.id).owner
    record, token = tokens.create(body.target, body.id, owner)
    audit_admin(request, principal, "feed.create", owner, feed=record.feed_id)
    # The token is shown once: only its digest is stored.
    return {**record.public(), "token": token, "url": feed_url(request, token)}


@router.get(
    "/v1/feeds",
    dependencies=[Depends(require(Role.VIEWER))],
    summary="The feeds of a subscription or saved search",
)
def list_feeds(
    request: Request,
    tokens: Tokens,
    principal: Viewer,
    target: FeedTarget,
    id: Annotated[str, Query(max_length=200)],
) -> dict[str, Any]:
    _owned_target(request, principal, target, id)
    found = tokens.list(target, id)
    return {"total": len(found), "feeds": [t.public() for t in found]}


@router.delete(
    "/v1/feeds/{feed_id}",
    status_code=204,
    dependencies=[Depends(require(Role.VIEWER))],
    summary="Revoke a feed's token",
)
def revoke(request: Request, tokens: Tokens, principal: Viewer, feed_id: str) -> Response:
    # The feed's own owner (its target may be gone already: revoking stays possible).
    record = tokens.get(feed_id)
    if record is None or not owns(principal, record.owner) or not tokens.revoke(feed_id):
        raise HTTPException(status_code=404, detail=f"no feed with id {feed_id!r}")
    audit_admin(request, principal, "feed.revoke", record.owner, feed=feed_id)
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
    sources = [h.get("_source", {}) for h in hits]
    stories = [str(s.get("story_root") or s.get("story_id")) for s in sources if s.get("story_id")]
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
    target = _target(request, record.target, record.target_id) if record else None
    if record is not None and target is None:
        # Its target was deleted without the API (`cwatch subscriptions delete`), which
        # deletes a target's tokens itself: this one goes now, as if deleted with it.
        tokens.revoke(record.feed_id)
    # Deleted target, or an owner disabled since: the same 404 as a wrong token.
    if record is None or target is None or not owner_active(request, target.owner):
        raise HTTPException(status_code=404, detail=NO_FEED)
    name, params, per_story = target.name, target.params, target.per_story
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
