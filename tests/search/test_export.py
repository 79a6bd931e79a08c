"""Exports against the real Elasticsearch: the API route over the small corpus, and 100,000
reports streamed page by page over a point in time by the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.indexer.mapping import index_name
from services.indexer.migrate import put_template
from services.indexer.settings import IndexerSettings
from services.query.exports import ACLED_COLUMNS, CSV_COLUMNS
from services.query.params import SearchParams
from services.search.export import Export, ExportLimits
from tests.query.test_exports import check_feature_collection
from tests.search.conftest import _drop
from tests.support import api_token, bearer, local_client

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_of_a_search_has_every_match(api: Any) -> None:
    response = api.get("/v1/export", params={"format": "csv", "q": "Pashinyan"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["x-cwatch-export-matched"] == "3"
    rows = _rows(response.text)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {r["report_id"] for r in rows} == {"r-en-ceasefire", "r-ru-ceasefire", "r-hy-talks"}


def test_acled_export_reads_back_with_the_acled_columns(api: Any) -> None:
    response = api.get("/v1/export", params={"format": "acled", "relevant": "true"})
    assert response.status_code == 200, response.text
    rows = _rows(response.text)
    assert tuple(rows[0])[: len(ACLED_COLUMNS)] == ACLED_COLUMNS
    by_id = {r["report_id"]: r for r in rows}
    assert set(by_id) == {
        "r-en-ceasefire",
        "r-ru-ceasefire",
        "r-hy-talks",
        "r-az-clash",
        "r-en-shelling",
    }
    shelling = by_id["r-en-shelling"]
    assert shelling["event_type"] == "Explosions/Remote violence"
    assert (shelling["location"], shelling["country"], shelling["fatalities"]) == (
        "Tavush",
        "Armenia",
        "2",
    )
    assert by_id["r-az-clash"]["event_type"] == "Battles"


def test_geojson_export_has_the_places_with_report_ids(api: Any) -> None:
    response = api.get("/v1/export", params={"format": "geojson"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    fc = response.json()
    check_feature_collection(fc)
    pairs = {(f["properties"]["report_id"], f["properties"]["place_id"]) for f in fc["features"]}
    assert pairs == {
        ("r-en-ceasefire", "place:lachin"),
        ("r-ru-ceasefire", "place:lachin"),
        ("r-en-shelling", "place:tavush"),
    }
    assert fc["cwatch"]["complete"] is True and fc["cwatch"]["reports"] == 6


def test_jsonl_export_with_a_row_cap_says_so_before_the_first_byte(api: Any) -> None:
    response = api.get("/v1/export", params={"format": "jsonl", "max_rows": 2})
    assert response.status_code == 200, response.text
    assert response.headers["x-cwatch-export-truncated"] == "max_rows"
    assert response.headers["x-cwatch-export-reports"] == "2"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 2 and "folded_text" not in lines[0] and lines[0]["body"]


@pytest.mark.parametrize(
    "params",
    [{"format": "xlsx"}, {"event": "picnic"}, {"q": '"unbalanced'}, {"max_rows": 0}],
)
def test_a_bad_export_request_is_refused_in_words(api: Any, params: dict[str, Any]) -> None:
    response = api.get("/v1/export", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_exports_beyond_the_concurrency_cap_are_refused_and_slots_come_back(api: Any) -> None:
    from services.api.exports import ExportSlots

    previous = getattr(api.app.state, "export_slots", None)
    api.app.state.export_slots = slots = ExportSlots(1, 1)
    try:
        for _ in range(3):  # each finished export (or refused one) frees its slot
            assert api.get("/v1/export", params={"format": "csv"}).status_code == 200
            assert api.get("/v1/export", params={"event": "picnic"}).status_code == 400
        held = slots.take("someone-else")
        assert callable(held)
        busy = api.get("/v1/export", params={"format": "csv"})
        assert busy.status_code == 429 and busy.headers["retry-after"] == "30"
        assert "1 exports are running" in busy.json()["detail"]
        held()
        held()  # twice is once
        assert api.get("/v1/export", params={"format": "csv"}).status_code == 200
    finally:
        api.app.state.export_slots = previous


# ---- 100,000 reports --------------------------------------------------------------------------

BIG = 100_000
BASE = datetime(2026, 10, 1, tzinfo=UTC)


def small_doc(n: int) -> dict[str, Any]:
    return {
        "report_id": f"r-{n:07d}",
        "story_id": f"s-{n // 3:07d}",
        "date": (BASE - timedelta(seconds=n)).isoformat(),
        "headline": f"Report {n}",
        "language": "en",
        "source": {"name": "Bulk Wire", "country": "GB", "affiliation": "wire"},
        "entities": [
            {"id": "place:lachin", "name": "Lachin", "type": "place", "lat": 39.64, "lon": 46.55}
        ],
        "event_types": ["ceasefire"],
        "primary_event": "ceasefire",
        "relevant": n % 2 == 0,
    }


def index_small_docs(es: Any, ns: str, count: int) -> None:
    """`count` small documents in the namespace's report index, by bulk."""
    settings = IndexerSettings(namespace=ns)
    put_template(es, settings)
    index = index_name(settings.index_alias, BASE)
    for start in range(0, count, 10_000):
        ops: list[dict[str, Any]] = []
        for n in range(start, min(start + 10_000, count)):
            ops.append({"index": {"_index": index, "_id": f"r-{n:07d}"}})
            ops.append(small_doc(n))
        response = es.options(request_timeout=120).bulk(operations=ops)
        assert not response["errors"]
    es.indices.refresh(index=index)


@pytest.fixture(scope="module")
def big_namespace(es_client: Any) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    try:
        index_small_docs(es_client, ns, BIG)
        yield ns
    finally:
        _drop(es_client, ns)


def test_100k_reports_are_exported_page_by_page(es_client: Any, big_namespace: str) -> None:
    pages: list[int] = []
    chunk_sizes: list[int] = []
    job = Export(
        es_client,
        IndexerSettings(namespace=big_namespace).index_alias,
        SearchParams(),
        "csv",
        ExportLimits(max_rows=BIG, time_budget_s=0),
        on_page=lambda e: pages.append(e.read),
    ).open()
    ids = set()
    for chunk in job.chunks():
        chunk_sizes.append(len(chunk))
        ids.update(row[0] for row in csv.reader(io.StringIO(chunk, newline="")))
    ids.discard("report_id")
    assert len(ids) == BIG and job.total == BIG and job.stopped is None
    # streamed: one chunk per page of 1,000, none of them holding more than a page
    assert pages == list(range(1000, BIG + 1, 1000))
    assert max(chunk_sizes) < 1000 * 400
    assert job._pit is None  # closed once the last chunk was read


def _cli(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CWATCH_NAMESPACE": ns, "CWATCH_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "export", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_exports_100k_reports_to_a_file_with_progress(
    big_namespace: str, tmp_path: Path
) -> None:
    out = tmp_path / "all.csv"
    done = _cli(big_namespace, "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == BIG and len({r["report_id"] for r in rows}) == BIG
    assert rows[0]["report_id"] == "r-0000000"  # newest first
    assert f"{BIG:,} reports match" in done.stderr
    assert f"exported {BIG:,} of {BIG:,} reports (100%)" in done.stderr
    assert not (tmp_path / "all.csv.part").exists()


def test_cli_export_with_a_filter_and_a_row_cap_exits_3_and_says_why(
    big_namespace: str, tmp_path: Path
) -> None:
    out = tmp_path / "some.geojson"
    done = _cli(
        big_namespace, "--relevant", "--format", "geojson", "--max-rows", "2500", "--out", str(out)
    )
    assert done.returncode == 3, done.stderr
    assert "stopped at --max-rows 2,500: 47,500 more reports match" in done.stderr
    fc = json.loads(out.read_text())
    check_feature_collection(fc)
    assert len(fc["features"]) == 2500
    assert fc["cwatch"]["stopped"] == "max_rows" and fc["cwatch"]["complete"] is False


def test_cli_export_refuses_a_bad_query_and_a_missing_folder(
    big_namespace: str, tmp_path: Path
) -> None:
    bad = _cli(big_namespace, "--event", "picnic", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "event='picnic' is unknown" in bad.stderr
    nowhere = _cli(big_namespace, "--out", str(tmp_path / "no" / "x.csv"))
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr


def test_an_export_reads_no_page_after_its_time_budget(es_client: Any, big_namespace: str) -> None:
    ticks = iter(range(1000))
    job = Export(
        es_client,
        IndexerSettings(namespace=big_namespace).index_alias,
        SearchParams(),
        "jsonl",
        ExportLimits(max_rows=BIG, time_budget_s=2),
        clock=lambda: float(next(ticks)),  # one second per look at the clock
    ).open()
    lines = "".join(job.chunks()).splitlines()
    assert job.stopped == "time_budget" and job._pit is None
    assert len(lines) == job.read < BIG and job.summary()["complete"] is False


def test_the_api_aborts_a_response_its_time_budget_cut(es_client: Any, big_namespace: str) -> None:
    from services.api.app import create_app
    from services.api.exports import ExportCut
    from services.search.settings import SearchSettings

    settings = SearchSettings(namespace=big_namespace, export_time_budget_s=1e-9)
    with local_client(create_app(settings, es=es_client)) as client:
        client.headers.update(bearer(api_token(es_client, big_namespace, "viewer")))
        with pytest.raises(ExportCut, match="time budget"):
            client.get("/v1/export", params={"format": "csv"})
