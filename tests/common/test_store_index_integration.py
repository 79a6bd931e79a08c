"""The small store indices against the real Elasticsearch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from elasticsearch import NotFoundError

from services.common.es import ensure_store_index

pytestmark = pytest.mark.integration


def test_processes_creating_a_store_index_at_once_can_all_read_it_at_once(
    es_client: Any, namespace: str
) -> None:
    # The first login on two API instances at once: each ensures the index, then reads. The
    # losers of the creation race used to read before the shard had started (503
    # no_shard_available_action_exception: a new index's unassigned primary counts as yellow).
    index = f"{namespace}-cwatch-race"
    mapping = {"dynamic": False, "properties": {"n": {"type": "integer"}}}

    def ensure_then_read(_: int) -> str:
        ensure_store_index(es_client, index, mapping)
        try:
            es_client.get(index=index, id="nothing-here")
        except NotFoundError:
            return "not found"
        return "found"

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert set(pool.map(ensure_then_read, range(12))) == {"not found"}
