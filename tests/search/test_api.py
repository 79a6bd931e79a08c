"""The search API against the real Elasticsearch, over a small corpus in four languages."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["report_id"] for hit in response.json()["hits"]]


def test_latin_name_finds_cyrillic_and_armenian_reports(api: Any) -> None:
    ids = _ids(api.get("/v1/search", params={"q": "Pashinyan"}))
    assert set(ids) == {"r-en-ceasefire", "r-ru-ceasefire", "r-hy-talks"}


def test_cyrillic_and_azerbaijani_spellings_find_each_other(api: Any) -> None:
    assert "r-en-ceasefire" in _ids(api.get("/v1/search", params={"q": "Пашинян"}))
    assert _ids(api.get("/v1/search", params={"q": "Aliyev"})) == ["r-az-clash"]


def test_phrase_prefix_and_not(api: Any) -> None:
    assert _ids(api.get("/v1/search", params={"q": '"Lachin corridor"'})) == ["r-en-ceasefire"]
    assert set(_ids(api.get("/v1/search", params={"q": "ceasefir*"}))) == {
        "r-en-ceasefire",
        "r-en-shelling",
    }
    assert _ids(api.get("/v1/search", params={"q": "ceasefire NOT Pashinyan"})) == ["r-en-shelling"]
    assert set(_ids(api.get("/v1/search", params={"q": "Tavush OR football"}))) == {
        "r-en-shelling",
        "r-en-football",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"lang": "ru"}, {"r-ru-ceasefire"}),
        ({"lang": "hy,az"}, {"r-hy-talks", "r-az-clash"}),
        ({"source": "Azatutyun"}, {"r-hy-talks"}),
        ({"country": "az"}, {"r-az-clash"}),
        ({"affiliation": "state"}, {"r-ru-ceasefire"}),
        ({"entity": "person:ilham-aliyev"}, {"r-az-clash"}),
        (
            {"entity": ["person:nikol-pashinyan", "place:lachin"]},
            {"r-en-ceasefire", "r-ru-ceasefire"},
        ),
        ({"event": "shelling_strike"}, {"r-en-shelling"}),
        ({"figure": "killed"}, {"r-az-clash", "r-en-shelling"}),
        ({"figure": "wounded"}, {"r-en-shelling"}),
        ({"relevant": "false"}, {"r-en-football"}),
        (
            {"since": "7d", "relevant": "true"},
            {"r-en-ceasefire", "r-ru-ceasefire", "r-hy-talks", "r-en-shelling"},
        ),
        ({"until": "10d"}, {"r-az-clash"}),
    ],
)
def test_every_filter(api: Any, params: dict[str, Any], expected: set[str]) -> None:
    assert set(_ids(api.get("/v1/search", params={**params, "size": 50}))) == expected


def test_facets_count_values_and_histogram_covers_every_hit(api: Any) -> None:
    body = api.get("/v1/facets", params={"interval": "day"}).json()
    assert body["total"] == 6
    languages = {b["value"]: b["count"] for b in body["facets"]["language"]}
    assert languages == {"en": 3, "ru": 1, "hy": 1, "az": 1}
    assert {"value": "person:nikol-pashinyan", "count": 3} in body["facets"]["entity"]
    assert {"value": "killed", "count": 2} in body["facets"]["figure"]
    assert {"value": "AZ", "count": 1} in body["facets"]["country"]
    assert {"value": "state", "count": 1} in body["facets"]["affiliation"]
    assert {"value": "ceasefire", "count": 2} in body["facets"]["event"]
    assert sum(b["count"] for b in body["histogram"]) == 6
    assert body["stories"] == 5


def test_search_can_return_facets_with_hits(api: Any) -> None:
    body = api.get("/v1/search", params={"q": "Pashinyan", "facets": "true"}).json()
    assert {b["value"]: b["count"] for b in body["facets"]["language"]} == {
        "en": 1,
        "ru": 1,
        "hy": 1,
    }


def test_sort_by_time_is_newest_first(api: Any) -> None:
    ids = _ids(api.get("/v1/search", params={"sort": "time"}))
    assert ids == [
        "r-en-ceasefire",
        "r-ru-ceasefire",
        "r-hy-talks",
        "r-en-shelling",
        "r-en-football",
        "r-az-clash",
    ]


def test_relevance_sort_puts_headline_matches_first(api: Any) -> None:
    ids = _ids(api.get("/v1/search", params={"q": "ceasefire"}))
    assert ids[0] == "r-en-ceasefire"


@pytest.mark.parametrize("sort", ["time", "relevance"])
def test_cursor_paging_visits_every_report_once(api: Any, sort: str) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"sort": sort, "size": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/search", params=params).json()
        seen += [h["report_id"] for h in body["hits"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6


def test_story_collapsing_shows_one_hit_per_story_with_its_version_count(api: Any) -> None:
    body = api.get("/v1/search", params={"collapse": "true", "sort": "time", "size": 3}).json()
    first = body["hits"][0]
    assert first["story_id"] == "s-ceasefire" and first["versions"] == 2
    assert first["report_id"] == "r-en-ceasefire"  # the newest version represents the story
    assert [h["versions"] for h in body["hits"][1:]] == [1, 1]
    stories = [h["story_id"] for h in body["hits"]]
    cursor = body["next_cursor"]
    body = api.get(
        "/v1/search", params={"collapse": "true", "sort": "time", "size": 3, "cursor": cursor}
    ).json()
    stories += [h["story_id"] for h in body["hits"]]
    assert len(stories) == len(set(stories)) == 5


def test_collapsed_version_counts_follow_the_query(api: Any) -> None:
    body = api.get("/v1/search", params={"collapse": "true", "lang": "en"}).json()
    assert {h["story_id"]: h["versions"] for h in body["hits"]}["s-ceasefire"] == 1


def test_highlights_mark_the_matched_words(api: Any) -> None:
    hit = api.get("/v1/search", params={"q": "Tavush"}).json()["hits"][0]
    assert "<em>Tavush</em>" in hit["highlights"]["headline"][0]


def test_report_by_id_lists_every_version_of_its_story(api: Any) -> None:
    body = api.get("/v1/reports/r-ru-ceasefire").json()
    assert body["report"]["headline"].startswith("Пашинян")
    assert "folded_text" not in body["report"]
    assert [v["report_id"] for v in body["versions"]] == ["r-ru-ceasefire", "r-en-ceasefire"]
    assert body["versions_total"] == 2


def test_unknown_report_is_404(api: Any) -> None:
    response = api.get("/v1/reports/nope-nope-nope")
    assert response.status_code == 404 and "nope-nope-nope" in response.json()["detail"]


def test_more_like_this_finds_other_stories(api: Any) -> None:
    response = api.get("/v1/reports/r-en-shelling/similar")
    ids = _ids(response)
    assert "r-en-shelling" not in ids
    assert "r-en-ceasefire" in ids


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": '"Lachin corridor'}, "not closed"),
        ({"q": "*chin"}, "cannot start"),
        ({"q": "ceasefire AND"}, "after it"),
        ({"size": "abc"}, "size"),
        ({"size": "500"}, "size must be"),
        ({"event": "battle"}, "event='battle' is unknown"),
        ({"since": "yesterday"}, "not a time"),
        ({"cursor": "xyz"}, "cursor"),
        ({"relevant": "maybe"}, "relevant"),
    ],
)
def test_bad_query_gets_400_with_a_readable_message(
    api: Any, params: dict[str, str], message: str
) -> None:
    response = api.get("/v1/search", params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_openapi_health_readiness_and_metrics(api: Any) -> None:
    spec = api.get("/openapi.json").json()
    assert {"/v1/search", "/v1/facets", "/v1/reports/{report_id}"} <= set(spec["paths"])
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200
    api.get("/v1/search", params={"q": "x"})
    assert "cwatch_search_requests_total" in api.get("/metrics").text


def test_readyz_is_503_before_anything_is_indexed(es_client: Any, namespace: str) -> None:
    from services.api.app import create_app
    from services.search.settings import SearchSettings
    from tests.support import api_token, bearer, local_client

    with local_client(create_app(SearchSettings(namespace=namespace), es=es_client)) as client:
        client.headers.update(bearer(api_token(es_client, namespace, "viewer")))
        assert client.get("/readyz").status_code == 503
        assert client.get("/v1/search", params={"q": "x"}).json()["total"] == 0
