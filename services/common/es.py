"""The one Elasticsearch client factory: every service builds its client here.

A service's settings say how long one request may take (`es_timeout_s`, from its own
`CWATCH_<SERVICE>_ES_TIMEOUT_S`) and how often the client itself resends a failed request
(`ES_RETRIES`, declared next to that timeout, with the reason for its value). Everything
else is the same for all: the URL from the common settings, and no resend after a timeout
(a request that timed out may still be running on the cluster; sending it again doubles the
load at the moment the cluster is slowest, and doubles the caller's wait).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from elasticsearch import Elasticsearch, NotFoundError
from pydantic import BaseModel

from services.common.settings import CommonSettings

M = TypeVar("M", bound=BaseModel)


def make_es(settings: CommonSettings) -> Elasticsearch:
    """A client with the service's timeout and retry policy (connection errors and
    429/502/503/504 answers are resent at most `ES_RETRIES` times)."""
    return Elasticsearch(
        settings.elasticsearch_url,
        request_timeout=settings.es_timeout_s,
        max_retries=settings.ES_RETRIES,
        retry_on_timeout=False,
    )


def ensure_store_index(
    es: Elasticsearch, index: str, mapping: dict[str, Any], add_fields: bool = False
) -> None:
    """Create one of the small store indices (users, subscriptions, feeds, ...) if it is missing:
    one shard, no replica, `mapping`. Two processes creating it at once is fine (the loser's 400
    is ignored). `add_fields`: also put the mapping's fields on an index created by an older
    release (adding a field is always allowed)."""
    if not es.indices.exists(index=index):
        es.options(ignore_status=400).indices.create(
            index=index, mappings=mapping, settings={"number_of_shards": 1, "number_of_replicas": 0}
        )
    # The loser of a creation race (or a process that saw the index exist a moment after
    # another created it) would otherwise read before its shard started: a 503. Not
    # wait_for_status: a new index's unassigned primary already counts as yellow.
    es.cluster.health(index=index, wait_for_active_shards="1", timeout="30s")
    if add_fields:
        es.indices.put_mapping(index=index, properties=mapping["properties"])


class DocStore(Generic[M]):
    """Documents of one pydantic model in one small store index, by id: what the API's saved
    searches and feed tokens keep (refreshed writes: the next read sees them)."""

    def __init__(
        self, es: Elasticsearch, index: str, mapping: dict[str, Any], model: type[M]
    ) -> None:
        self.es, self.index, self.mapping, self.model = es, index, mapping, model
        self._ensured = False

    def ensure(self) -> None:
        if not self._ensured:
            # fields added after an index's first release (`owner`) are put on it too
            ensure_store_index(self.es, self.index, self.mapping, add_fields=True)
            self._ensured = True

    def put_doc(self, doc_id: str, doc: M) -> M:
        self.ensure()
        self.es.index(
            index=self.index, id=doc_id, document=doc.model_dump(mode="json"), refresh=True
        )
        return doc

    def get(self, doc_id: str) -> M | None:
        self.ensure()
        try:
            found = self.es.get(index=self.index, id=doc_id)
        except NotFoundError:
            return None
        return self.model.model_validate(found["_source"])

    def find(self, query: dict[str, Any], size: int) -> list[M]:
        """The documents matching `query`, oldest first (`created`)."""
        self.ensure()
        resp = self.es.search(index=self.index, query=query, sort=[{"created": "asc"}], size=size)
        return [self.model.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    def delete(self, doc_id: str) -> bool:
        self.ensure()
        try:
            self.es.delete(index=self.index, id=doc_id, refresh=True)
        except NotFoundError:
            return False
        return True
