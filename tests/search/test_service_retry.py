"""A freshly created index answers 503 until its shards start: searches wait that out."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from services.search import service as service_module
from services.search.service import SearchService, shards_starting

pytestmark = pytest.mark.unit

ALL_SHARDS_FAILED = {
    "error": {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "caused_by": {"type": "no_shard_available_action_exception"},
    },
    "status": 503,
}


def api_error(status: int, body: dict[str, Any]) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    return ApiError(str(body.get("error", {}).get("type", "error")), meta=meta, body=body)


class FlakyEs:
    """Fails the first `failures` searches with `error`, then answers."""

    def __init__(self, failures: int, error: ApiError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def search(self, **_: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

        class Response:
            body = {"hits": {"hits": [], "total": {"value": 0, "relation": "eq"}}, "took": 1}

        return Response()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module.time, "sleep", lambda _s: None)


def test_all_shards_failed_503_is_recognised_as_shards_starting() -> None:
    assert shards_starting(api_error(503, ALL_SHARDS_FAILED))
    assert not shards_starting(api_error(500, ALL_SHARDS_FAILED))
    assert not shards_starting(api_error(503, {"error": {"type": "cluster_block_exception"}}))


def test_search_waits_for_a_new_index_to_start_its_shards() -> None:
    es = FlakyEs(failures=2, error=api_error(503, ALL_SHARDS_FAILED))
    result = SearchService(es, "alias")._search({"query": {"match_all": {}}})  # type: ignore[arg-type]
    assert result["hits"]["total"]["value"] == 0
    assert es.calls == 3


def test_search_gives_up_after_the_pauses_and_other_errors_are_not_retried() -> None:
    stuck = FlakyEs(failures=100, error=api_error(503, ALL_SHARDS_FAILED))
    with pytest.raises(ApiError):
        SearchService(stuck, "alias")._search({})  # type: ignore[arg-type]
    assert stuck.calls == len(service_module.SHARD_START_PAUSES_S) + 1

    refused = FlakyEs(failures=100, error=api_error(400, {"error": {"type": "parsing_exception"}}))
    with pytest.raises(ApiError):
        SearchService(refused, "alias")._search({})  # type: ignore[arg-type]
    assert refused.calls == 1
