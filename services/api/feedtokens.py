"""Feed tokens: the secret in a feed's URL that lets any feed reader read it without an account.

A token is `<feed id>.<secret>`: the feed id finds its record (by id: real-time), the secret is
256 random bits of which only the SHA-256 is stored (a random secret needs no slow hash), and
it is compared in constant time. Revoking deletes the record: the URL answers 404 at once;
deleting a target (subscription, saved search) deletes its records with it (`delete_target`).
Records live in `<prefix>-feed-tokens`. This is the one module that mints and checks them, so
the accounts' tokens can replace it in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import BaseModel, Field

from services.common.es import DocStore

MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "feed_id": {"type": "keyword"},
        "target": {"type": "keyword"},
        "target_id": {"type": "keyword"},
        "owner": {"type": "keyword"},
        "created": {"type": "date"},
    },
}
MAX_TOKEN_CHARS = 200
MAX_LIST = 1000


class FeedTarget(StrEnum):
    SUBSCRIPTION = "subscription"
    SAVED_SEARCH = "saved_search"


class FeedToken(BaseModel):
    """A stored token: never the secret, only its digest."""

    feed_id: str
    target: FeedTarget
    target_id: str
    owner: str | None = None  # the target's owner: the feed is theirs (None: made before)
    secret_sha256: str = Field(repr=False)
    created: datetime

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"secret_sha256"})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    if len(token) > MAX_TOKEN_CHARS:
        return None
    feed_id, dot, secret = token.partition(".")
    if not dot or not feed_id.isalnum() or not secret:
        return None
    return feed_id, secret


class FeedTokenStore(DocStore[FeedToken]):
    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        super().__init__(es, f"{prefix}-feed-tokens", MAPPING, FeedToken)

    def create(
        self, target: FeedTarget, target_id: str, owner: str | None
    ) -> tuple[FeedToken, str]:
        """A new token for a feed: (its record, the token, to be shown once)."""
        self.ensure()
        feed_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = FeedToken(
            feed_id=feed_id,
            target=target,
            target_id=target_id,
            owner=owner,
            secret_sha256=_digest(secret),
            created=datetime.now(UTC),
        )
        return self.put_doc(feed_id, record), f"{feed_id}.{secret}"

    def get(self, feed_id: str) -> FeedToken | None:
        if not feed_id.isalnum() or len(feed_id) > MAX_TOKEN_CHARS:
            return None
        return super().get(feed_id)

    def resolve(self, token: str) -> FeedToken | None:
        """The record of a valid, unrevoked token; None for anything else. Whether its target
        still exists and its owner may still read it is the caller's to check
        (services/api/feeds.py)."""
        parts = split_token(token)
        if parts is None:
            return None
        feed_id, secret = parts
        record = self.get(feed_id)
        if record is None or not hmac.compare_digest(record.secret_sha256, _digest(secret)):
            return None
        return record

    def list(self, target: FeedTarget, target_id: str) -> list[FeedToken]:
        filters = [{"term": {"target": target.value}}, {"term": {"target_id": target_id}}]
        return self.find({"bool": {"filter": filters}}, MAX_LIST)

    def revoke(self, feed_id: str) -> bool:
        return self.delete(feed_id)

    def delete_target(self, target: FeedTarget, target_id: str) -> int:
        """Every token of a deleted target (refreshed: none resolves after this answers). By
        id in bulk: the integ-test-zip Elasticsearch has no delete-by-query (no reindex
        module), and a target has few feeds."""
        deleted = 0
        for _ in range(10):  # MAX_LIST per round; a target with more is a bug, not a loop
            found = self.list(target, target_id)
            if not found:
                break
            ops = [{"delete": {"_index": self.index, "_id": t.feed_id}} for t in found]
            self.es.bulk(operations=ops, refresh=True)
            deleted += len(found)
        return deleted
