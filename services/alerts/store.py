"""Durable state in Elasticsearch: subscriptions, per-(subscription, story) alert state and the
delivery log. Indices are `<prefix>-subscriptions`, `<prefix>-alert-state`, `<prefix>-deliveries`
(prefix `cwatch`, or `<namespace>-cwatch`), created on first use. Subscription writes refresh
at once, so what the API just accepted is what the matcher reads next."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from pydantic import ValidationError

from schemas.alert import Alert
from services.alerts import metrics
from services.alerts.dedup import StoryState
from services.alerts.models import Subscription
from services.common.es import ensure_store_index
from services.common.secretbox import SecretBox, SecretUnreadable

_KW = {"type": "keyword"}
SUBSCRIPTION_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": _KW,
        "owner": _KW,
        "name": {"type": "text", "fields": {"raw": _KW}},
        "active": {"type": "boolean"},
        "mode": _KW,
        "created": {"type": "date"},
        "updated": {"type": "date"},
    },
}
STATE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "subscription_id": _KW,
        "story_id": _KW,
        "count": {"type": "integer"},
        "pending": {"type": "integer"},
        "pending_since": {"type": "date"},
        "last_alert_at": {"type": "date"},
    },
}
DELIVERY_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "subscription_id": _KW,
        "alert_id": _KW,
        "channel": _KW,
        "outcome": _KW,
        "attempt": {"type": "integer"},
        "status": {"type": "integer"},
        "at": {"type": "date"},
    },
}
DIGEST_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "subscription_id": _KW,
        "alert_id": _KW,
        "story_id": _KW,
        "queued_at": {"type": "date"},
        "alert": {"type": "object", "enabled": False},
    },
}
MAX_LIST = 10_000
MAX_DIGEST_ITEMS = 1000  # per subscription and digest; the next digest takes the rest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryLine:
    """One line of a subscription's delivery log."""

    subscription_id: str
    alert_id: str
    channel: str
    outcome: str  # sent, queued, retried, failed, channel_failing
    attempt: int = 1
    status: int | None = None
    error: str | None = None
    line_id: str | None = None  # set for a "sent" / "queued" line: the alert's delivered mark
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "alert_id": self.alert_id,
            "channel": self.channel,
            "outcome": self.outcome,
            "attempt": self.attempt,
            "status": self.status,
            "error": (self.error or "")[:1000] or None,
            "at": self.at.isoformat(),
        }


def sent_line_id(alert_id: str) -> str:
    """The delivery log line of a webhook alert that was delivered has this id: it doubles as
    the durable "already delivered" mark the dispatcher reads back (real-time, by id)."""
    return f"sent-{alert_id}"


def _loaded(hit: dict[str, Any], box: SecretBox) -> Subscription | None:
    """A stored subscription, validated again: one saved before today's rules (a webhook URL
    with a control character, say) or sealed with another key is skipped with the reason,
    never handed to the matcher or the dispatcher, and never stops the others from loading."""
    try:
        return _opened(hit["_source"], box)
    except (ValidationError, SecretUnreadable) as exc:
        metrics.SUBSCRIPTION_ERRORS.inc()
        log.warning(
            "stored subscription invalid; skipped",
            extra={"id": hit.get("_id"), "error": str(exc)[:500]},
        )
        return None


def _opened(source: dict[str, Any], box: SecretBox) -> Subscription:
    channel = source.get("channel") or {}
    if isinstance(channel, dict) and isinstance(channel.get("secret"), str):
        source = {**source, "channel": {**channel, "secret": box.open(channel["secret"])}}
    return Subscription.model_validate(source)


def _sealed(sub: Subscription, box: SecretBox) -> dict[str, Any]:
    doc = sub.model_dump(mode="json")
    if doc["channel"].get("secret"):
        doc["channel"]["secret"] = box.seal(doc["channel"]["secret"])
    return doc


class AlertStore:
    def __init__(self, es: Elasticsearch, prefix: str, box: SecretBox | None = None) -> None:
        """`box` seals webhook secrets (default: the key of the environment's settings)."""
        self.es = es
        self.box = box or SecretBox.from_settings()
        self.subscriptions_index = f"{prefix}-subscriptions"
        self.state_index = f"{prefix}-alert-state"
        self.deliveries_index = f"{prefix}-deliveries"
        self.digest_index = f"{prefix}-email-digest"
        self._ensured = False
        self._digest_ensured = False

    def ensure(self) -> None:
        if self._ensured:
            return
        for name, mapping in (
            (self.subscriptions_index, SUBSCRIPTION_MAPPING),
            (self.state_index, STATE_MAPPING),
            (self.deliveries_index, DELIVERY_MAPPING),
        ):
            # `owner` came after the first release of the subscriptions index
            ensure_store_index(self.es, name, mapping, add_fields=name == self.subscriptions_index)
        self._ensured = True

    # ---- subscriptions ------------------------------------------------------------------------

    def put(self, sub: Subscription) -> Subscription:
        self.ensure()
        self.es.index(
            index=self.subscriptions_index,
            id=sub.id,
            document=_sealed(sub, self.box),
            refresh=True,  # rare writes; the next list must see them
        )
        return sub

    def put_many(self, subs: Sequence[Subscription]) -> None:
        """Many at once (an import, a benchmark): one refresh at the end, not one each."""
        self.ensure()
        for sub in subs:
            self.es.index(
                index=self.subscriptions_index, id=sub.id, document=_sealed(sub, self.box)
            )
        self.es.indices.refresh(index=self.subscriptions_index)

    def get(self, sub_id: str) -> Subscription | None:
        self.ensure()
        try:
            doc = self.es.get(index=self.subscriptions_index, id=sub_id)
        except NotFoundError:
            return None
        return _opened(doc["_source"], self.box)

    def delete(self, sub_id: str) -> bool:
        self.ensure()
        try:
            self.es.delete(index=self.subscriptions_index, id=sub_id, refresh=True)
        except NotFoundError:
            return False
        return True

    def version(self) -> tuple[int, str | None]:
        """(count, newest `updated`): changes whenever a subscription is added, edited or
        deleted, so a reader re-reads the whole list only then."""
        self.ensure()
        resp = self.es.search(
            index=self.subscriptions_index,
            size=0,
            track_total_hits=True,
            aggs={"newest": {"max": {"field": "updated"}}},
        )
        newest = resp["aggregations"]["newest"].get("value_as_string")
        return int(resp["hits"]["total"]["value"]), newest

    def list_subscriptions(
        self, active_only: bool = False, owner: str | None = None
    ) -> list[Subscription]:
        """Every subscription, or those of one `owner`."""
        self.ensure()
        filters: list[dict[str, Any]] = [{"term": {"active": True}}] if active_only else []
        if owner is not None:
            filters.append({"term": {"owner": owner}})
        query: dict[str, Any] = {"bool": {"filter": filters}}
        subs: list[Subscription] = []
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after else {}
            resp = self.es.search(
                index=self.subscriptions_index,
                query=query,
                size=1000,
                sort=[{"created": "asc"}, {"id": "asc"}],
                **kwargs,
            )
            hits = resp["hits"]["hits"]
            subs.extend(sub for hit in hits if (sub := _loaded(hit, self.box)) is not None)
            if len(hits) < 1000 or len(subs) >= MAX_LIST * 10:
                return subs
            after = hits[-1]["sort"]

    # ---- alert state --------------------------------------------------------------------------

    def states(self, keys: list[str]) -> dict[str, StoryState]:
        if not keys:
            return {}
        self.ensure()
        found: dict[str, StoryState] = {}
        for start in range(0, len(keys), 1000):
            resp = self.es.mget(index=self.state_index, ids=keys[start : start + 1000])
            for doc in resp["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = StoryState.model_validate(doc["_source"])
        return found

    def save_states(self, states: list[StoryState]) -> None:
        if not states:
            return
        self.ensure()
        ops: list[dict[str, Any]] = []
        for state in states:
            ops.append({"index": {"_index": self.state_index, "_id": state.key}})
            ops.append(state.model_dump(mode="json"))
        # No refresh: states are read back by id (mget is real-time), so the hot path does not
        # wait for one; the searches over states (digests, API) see them within a second.
        resp = self.es.bulk(operations=ops)
        if resp.get("errors"):
            bad = [i for i in resp["items"] if i["index"].get("error")]
            raise RuntimeError(f"alert state not saved: {bad[:3]}")

    def pending_digests(self) -> list[StoryState]:
        self.ensure()
        resp = self.es.search(
            index=self.state_index, query={"range": {"pending": {"gt": 0}}}, size=MAX_LIST
        )
        return [StoryState.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    def stories(self, sub_id: str, size: int = 100) -> list[StoryState]:
        self.ensure()
        resp = self.es.search(
            index=self.state_index,
            query={"term": {"subscription_id": sub_id}},
            sort=[{"last_alert_at": {"order": "desc", "unmapped_type": "date"}}],
            size=size,
        )
        return [StoryState.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    # ---- delivery log -------------------------------------------------------------------------

    def log_delivery(
        self,
        sub_id: str,
        alert_id: str,
        channel: str,
        outcome: str,
        attempt: int = 1,
        status: int | None = None,
        error: str | None = None,
        line_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """One line, written now (the service writes its lines in bulk: DeliveryLogWriter)."""
        line = DeliveryLine(sub_id, alert_id, channel, outcome, attempt, status, error, line_id)
        if at is not None:
            line = replace(line, at=at)
        if self.log_lines([line]):
            raise RuntimeError("delivery log line not written")

    def delivered(self, alert_ids: list[str]) -> set[str]:
        """The alerts among `alert_ids` whose webhook delivery was logged as sent."""
        if not alert_ids:
            return set()
        self.ensure()
        found: set[str] = set()
        for start in range(0, len(alert_ids), 1000):
            chunk = alert_ids[start : start + 1000]
            resp = self.es.mget(
                index=self.deliveries_index, ids=[sent_line_id(a) for a in chunk], source=False
            )
            found.update(a for a, doc in zip(chunk, resp["docs"], strict=True) if doc.get("found"))
        return found

    def log_lines(self, lines: Sequence[DeliveryLine]) -> list[DeliveryLine]:
        """Many lines in one request; answers the lines Elasticsearch refused (raises when
        it did not answer)."""
        if not lines:
            return []
        self.ensure()
        ops: list[dict[str, Any]] = []
        for line in lines:
            action: dict[str, Any] = {"_index": self.deliveries_index}
            if line.line_id:
                action["_id"] = line.line_id
            ops.append({"index": action})
            ops.append(line.document())
        resp = self.es.bulk(operations=ops)
        if not resp.get("errors"):
            return []
        return [
            line
            for line, item in zip(lines, resp["items"], strict=True)
            if item["index"].get("error")
        ]

    def failing_since(self, since: datetime, size: int = 100) -> list[dict[str, Any]]:
        """The `channel_failing` lines written since `since`, oldest first, each with its
        line `id` and its subscription's `owner` and `name` (None for a deleted one)."""
        self.ensure()
        resp = self.es.search(
            index=self.deliveries_index,
            query={
                "bool": {
                    "filter": [
                        {"term": {"outcome": "channel_failing"}},
                        {"range": {"at": {"gte": since.isoformat()}}},
                    ]
                }
            },
            sort=[{"at": "asc"}],
            size=size,
        )
        lines = [{"id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]]
        sub_ids = sorted({line["subscription_id"] for line in lines})
        subs: dict[str, dict[str, Any]] = {}
        if sub_ids:
            found = self.es.mget(
                index=self.subscriptions_index, ids=sub_ids, source_includes=["owner", "name"]
            )
            subs = {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}
        for line in lines:
            sub = subs.get(line["subscription_id"], {})
            line["owner"], line["name"] = sub.get("owner"), sub.get("name")
        return lines

    def failing(self, sub_ids: Sequence[str]) -> set[str]:
        """The subscriptions whose channel's latest verdict in the log is `channel_failing`
        (not followed by a delivery that went out): one request for a whole list."""
        if not sub_ids:
            return set()
        self.ensure()
        resp = self.es.search(
            index=self.deliveries_index,
            size=0,
            query={
                "bool": {
                    "filter": [
                        {"terms": {"subscription_id": list(sub_ids)}},
                        {"terms": {"outcome": ["sent", "queued", "channel_failing"]}},
                    ]
                }
            },
            aggs={
                "subs": {
                    "terms": {"field": "subscription_id", "size": len(sub_ids)},
                    "aggs": {
                        "latest": {
                            "top_hits": {
                                "size": 1,
                                "sort": [{"at": "desc"}],
                                "_source": ["outcome"],
                            }
                        }
                    },
                }
            },
        )
        out: set[str] = set()
        for bucket in resp["aggregations"]["subs"]["buckets"]:
            hits = bucket["latest"]["hits"]["hits"]
            if hits and hits[0]["_source"].get("outcome") == "channel_failing":
                out.add(bucket["key"])
        return out

    def deliveries(self, sub_id: str, size: int = 100) -> list[dict[str, Any]]:
        self.ensure()
        self.es.indices.refresh(index=self.deliveries_index)
        resp = self.es.search(
            index=self.deliveries_index,
            query={"term": {"subscription_id": sub_id}},
            sort=[{"at": "desc"}],
            size=size,
        )
        return [h["_source"] for h in resp["hits"]["hits"]]

    # ---- email digests: alerts waiting for their subscription's next digest ---------------------
    # Kept here, not in memory, so a restart loses none; the id (subscription + alert) makes
    # queueing the same alert twice (a replay) one item.

    def _ensure_digest(self) -> None:
        """Created by the first queued item only: the API and deployments without email
        digests never pay for one more index."""
        if self._digest_ensured:
            return
        ensure_store_index(self.es, self.digest_index, DIGEST_MAPPING)
        self._digest_ensured = True

    def queue_digest(self, sub_id: str, alert: Alert, queued_at: datetime) -> None:
        self._ensure_digest()
        self.es.index(
            index=self.digest_index,
            id=f"{sub_id}-{alert.alert_id}",
            document={
                "subscription_id": sub_id,
                "alert_id": alert.alert_id,
                "story_id": alert.story_id,
                "queued_at": queued_at.isoformat(),
                "alert": alert.model_dump(mode="json"),
            },
        )

    def digest_items(self) -> dict[str, list[tuple[str, datetime, Alert]]]:
        """Queued alerts per subscription, oldest first: (item id, queued_at, alert)."""
        quiet = self.es.options(ignore_status=404)  # no index yet: nothing queued
        quiet.indices.refresh(index=self.digest_index)
        resp = quiet.search(
            index=self.digest_index,
            sort=[{"queued_at": "asc"}],
            size=MAX_LIST,
        )
        if "hits" not in resp:
            return {}
        out: dict[str, list[tuple[str, datetime, Alert]]] = {}
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            items = out.setdefault(src["subscription_id"], [])
            if len(items) < MAX_DIGEST_ITEMS:
                at = datetime.fromisoformat(src["queued_at"])
                items.append((hit["_id"], at, Alert.model_validate(src["alert"])))
        return out

    def drop_digest_items(self, item_ids: Sequence[str]) -> None:
        if not item_ids:
            return
        ops = [{"delete": {"_index": self.digest_index, "_id": i}} for i in item_ids]
        self.es.bulk(operations=ops, refresh=True)
