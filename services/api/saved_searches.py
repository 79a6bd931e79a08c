"""Saved searches: a named query + filters (the one Filters model) kept in Elasticsearch
(`<prefix>-saved-searches`), with nothing to deliver: the matcher never sees them, so they cost
nothing until their Atom feed or an export reads them. A subscription is a saved search with a
channel; both have feeds (services/api/feeds.py).

Each belongs to the user who saved it (`owner`): a user lists, reads and deletes only their
own (another user's answers 404, like a missing one); admins all, audited when not theirs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.api.auth import Viewer, require
from services.api.feedtokens import FeedTarget
from services.api.ownership import audit_admin, owner_filter, owns
from services.api.subscriptions import get_state
from services.common.auth.models import Principal
from services.common.auth.roles import Role
from services.common.es import DocStore
from services.query.bodies import build_query
from services.query.params import Filters, SearchParams
from services.query.syntax import QueryError

router = APIRouter(prefix="/v1", tags=["feeds"], dependencies=[Depends(require(Role.VIEWER))])

MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "keyword"},
        "owner": {"type": "keyword"},
        "name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "created": {"type": "date"},
    },
}
MAX_LIST = 1000
MAX_ID = 200  # longer is no id of ours (and Elasticsearch refuses ids over 512 bytes)


class SavedSearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    query: str = Field(default="", max_length=1000, description="Search syntax")
    filters: Filters = Field(default_factory=Filters)

    @model_validator(mode="after")
    def _bounded_filters(self) -> SavedSearchInput:
        self.filters.check_bounds()
        return self


class SavedSearch(SavedSearchInput):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    owner: str | None = None  # the user who saved it; None: saved before accounts (admins')
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def search_params(self) -> SearchParams:
        return SearchParams(q=self.query, **self.filters.model_dump(by_alias=False))


class SavedSearchStore(DocStore[SavedSearch]):
    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        super().__init__(es, f"{prefix}-saved-searches", MAPPING, SavedSearch)

    def put(self, saved: SavedSearch) -> SavedSearch:
        return self.put_doc(saved.id, saved)

    def list(self, owner: str | None = None) -> list[SavedSearch]:
        """Every saved search, or those of one `owner`."""
        return self.find(
            {"term": {"owner": owner}} if owner is not None else {"match_all": {}}, MAX_LIST
        )


def get_saved_searches(request: Request) -> SavedSearchStore:
    store = getattr(request.app.state, "saved_searches", None)
    if store is None:
        store = SavedSearchStore(request.app.state.es, get_state(request).settings.index_prefix())
        request.app.state.saved_searches = store
    assert isinstance(store, SavedSearchStore)
    return store


Store = Annotated[SavedSearchStore, Depends(get_saved_searches)]


def found(store: SavedSearchStore, saved_id: str, principal: Principal) -> SavedSearch:
    """The saved search, when `principal` owns it or is an admin; another user's answers 404,
    exactly like one that does not exist."""
    saved = store.get(saved_id) if len(saved_id) <= MAX_ID else None
    if saved is None or not owns(principal, saved.owner):
        raise HTTPException(status_code=404, detail=f"no saved search with id {saved_id!r}")
    return saved


@router.post("/saved-searches", status_code=201, summary="Save a search (query + filters): yours")
def create(store: Store, principal: Viewer, body: SavedSearchInput) -> dict[str, Any]:
    saved = SavedSearch(**body.model_dump(), owner=principal.user)
    try:
        build_query(saved.search_params(), datetime.now(UTC))
    except QueryError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return store.put(saved).model_dump(mode="json")


@router.get("/saved-searches", summary="List your saved searches (admins: everyone's)")
def list_all(store: Store, principal: Viewer) -> dict[str, Any]:
    saved = store.list(owner=owner_filter(principal))
    return {"total": len(saved), "saved_searches": [s.model_dump(mode="json") for s in saved]}


@router.get("/saved-searches/{saved_id}", summary="One saved search")
def get_one(store: Store, principal: Viewer, saved_id: str) -> dict[str, Any]:
    return found(store, saved_id, principal).model_dump(mode="json")


@router.delete("/saved-searches/{saved_id}", status_code=204, summary="Delete a saved search")
def delete(request: Request, store: Store, principal: Viewer, saved_id: str) -> Response:
    owner = found(store, saved_id, principal).owner
    if not store.delete(saved_id):
        raise HTTPException(status_code=404, detail=f"no saved search with id {saved_id!r}")
    # Its feeds go with it: no feed URL of a deleted search answers, nor is its token kept.
    get_state(request).feed_tokens.delete_target(FeedTarget.SAVED_SEARCH, saved_id)
    audit_admin(request, principal, "saved_search.delete", owner, saved_search=saved_id)
    return Response(status_code=204)
