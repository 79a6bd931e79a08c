from datetime import UTC, datetime, timedelta

import pytest

from services.query.bodies import (
    SQS_FLAGS,
    build_search,
    build_similar,
    decode_cursor,
    encode_cursor,
    next_cursor,
)
from services.query.params import SearchParams
from services.query.syntax import QueryError, parse_time, parse_user_query

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _sqs(body: dict) -> list[dict]:  # type: ignore[type-arg]
    text = body["query"]["bool"]["must"][0]["bool"]
    return [text["must"][0]["simple_query_string"], text["should"][0]["simple_query_string"]]


def test_query_is_folded_for_cross_script_matching() -> None:
    folded, typed = parse_user_query("Пашинян Lachin") or ("", "")
    assert folded == "pashinyan* lachin*"
    assert typed == "Пашинян Lachin"
    assert parse_user_query("Փաշինյան") == ("pashinyan*", "Փաշինյան")


def test_short_words_and_numbers_are_not_expanded_to_prefixes() -> None:
    assert parse_user_query("CSTO 2020 army") == ("csto 2020 army", "CSTO 2020 army")


def test_word_operators_become_simple_query_string_operators() -> None:
    folded, _ = parse_user_query('ceasefire AND (Lachin OR Shusha) NOT "peace treaty"') or ("", "")
    assert folded == 'ceasefire* + (lachin* | shusha*) -"peace treaty"'
    folded, _ = parse_user_query("ceasefire -Pashinyan") or ("", "")
    assert folded == "ceasefire* -pashinyan*"


def test_prefix_is_kept_and_special_characters_are_escaped_in_the_typed_query() -> None:
    folded, typed = parse_user_query("ceasefir* a~b") or ("", "")
    assert folded == 'ceasefir* "a b"'
    assert typed == "ceasefir* a\\~b"


def test_only_safe_simple_query_string_is_built() -> None:
    body = build_search(SearchParams(q="ceasefire"), NOW)
    folded, typed = _sqs(body)
    assert folded["fields"] == ["folded_text"] and folded["flags"] == SQS_FLAGS
    assert typed["fields"] == ["headline^3", "body"]
    assert "query_string" not in str(body).replace("simple_query_string", "")
    assert body["timeout"] and body["size"] == 20


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("*shinyan", "cannot start"),
        ("?ashinyan", "cannot start"),
        ("pa*nyan", "only one *"),
        ('"peace treaty', "not closed"),
        ("(ceasefire OR truce", "not closed"),
        ("ceasefire)", "no matching"),
        ("AND ceasefire", "before it"),
        ("ceasefire OR", "after it"),
        ("ceasefire NOT", "followed by"),
        ("()", "empty parentheses"),
        ("x" * 1001, "too long"),
        ('""', "empty phrase"),
        ("p*", "at least 2 letters"),
        ("Lachin\x00corridor", "control character \\(U\\+0000\\) at position 6"),
        ("\x1b[31mLachin", "control character"),
    ],
)
def test_bad_query_syntax_is_explained(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_user_query(query)


def test_punctuation_only_words_are_ignored() -> None:
    assert parse_user_query("Lachin — Shusha") == ("lachin* shusha*", "Lachin Shusha")
    assert parse_user_query("   ") is None


def test_filters_become_term_filters() -> None:
    params = SearchParams(
        languages=["EN", "ru"],
        sources=["Azatutyun"],
        countries=["am"],
        affiliations=["state"],
        entities=["person:nikol-pashinyan", "place:lachin"],
        event_types=["ceasefire"],
        figure_kinds=["killed"],
        relevant=True,
        since="7d",
    )
    filters = build_search(params, NOW)["query"]["bool"]["filter"]
    assert {"terms": {"language": ["en", "ru"]}} in filters
    assert {"terms": {"source.name": ["Azatutyun"]}} in filters
    assert {"terms": {"source.country": ["AM"]}} in filters
    assert {"terms": {"source.affiliation": ["state"]}} in filters
    assert {"term": {"entity_ids": "person:nikol-pashinyan"}} in filters
    assert {"term": {"entity_ids": "place:lachin"}} in filters
    assert {"terms": {"event_types": ["ceasefire"]}} in filters
    assert {"terms": {"figure_kinds": ["killed"]}} in filters
    assert {"term": {"relevant": True}} in filters
    assert {"range": {"date": {"gte": (NOW - timedelta(days=7)).isoformat()}}} in filters


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SearchParams(event_types=["battle"]), "event='battle' is unknown"),
        (SearchParams(figure_kinds=["dead"]), "figure='dead' is unknown"),
        (SearchParams(affiliations=["friendly"]), "affiliation"),
        (SearchParams(countries=["Armenia"]), "two-letter"),
        (SearchParams(since="last week"), "not a time"),
        (SearchParams(since="2026-11-10", until="2026-11-01"), "since is after until"),
        (SearchParams(size=0), "size must be"),
        (SearchParams(size=1000), "size must be"),
        (SearchParams(sort="popularity"), "sort="),
        (SearchParams(facets=True, interval="fortnight"), "interval="),
        (SearchParams(cursor="garbage!"), "cursor"),
        (SearchParams(since="99999y"), "outside the calendar"),
        (SearchParams(until="0001-01-01T00:00:00+05:00"), "outside the calendar"),
    ],
)
def test_bad_parameters_are_explained(params: SearchParams, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build_search(params, NOW)


def test_relative_and_absolute_times() -> None:
    assert parse_time("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_time("30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_time("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01T08:00:00Z", NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)


def test_time_sort_pages_with_search_after_cursor() -> None:
    params = SearchParams(sort="time", size=2)
    hits = [{"sort": [1, "a"]}, {"sort": [0, "b"]}]
    cursor = next_cursor(params, hits, 0)
    assert cursor is not None
    params.cursor = cursor
    body = build_search(params, NOW)
    assert body["search_after"] == [0, "b"]
    assert body["sort"][0] == {"date": {"order": "desc"}}
    assert next_cursor(params, hits[:1], 0) is None  # a short page is the last


def test_cursor_of_another_sort_is_refused() -> None:
    cursor = encode_cursor({"m": "time", "a": [1, "a"]})
    assert decode_cursor(cursor, "time")["a"] == [1, "a"]
    with pytest.raises(QueryError, match="cursor"):
        build_search(SearchParams(sort="relevance", cursor=cursor), NOW)


def test_collapse_by_story_pages_with_offsets() -> None:
    params = SearchParams(collapse=True, size=10)
    body = build_search(params, NOW)
    assert body["collapse"]["field"] == "story_root"
    params.cursor = next_cursor(params, [{"sort": [1]}] * 10, 0)
    assert build_search(params, NOW)["from"] == 10


def test_facets_and_histogram_are_requested() -> None:
    aggs = build_search(SearchParams(facets=True, interval="week"), NOW)["aggs"]
    assert aggs["entity"]["terms"]["field"] == "entity_ids"
    assert aggs["country"]["terms"]["field"] == "source.country"
    assert aggs["histogram"]["date_histogram"]["calendar_interval"] == "week"
    assert aggs["stories"] == {"cardinality": {"field": "story_root"}}


def test_similar_excludes_the_same_story() -> None:
    body = build_similar("idx", "r1", "s1", 5)
    assert body["query"]["bool"]["must_not"] == [{"term": {"story_id": "s1"}}]
    assert body["query"]["bool"]["must"][0]["more_like_this"]["like"] == [
        {"_index": "idx", "_id": "r1"}
    ]


def test_tabs_and_newlines_are_ordinary_spaces_in_a_query() -> None:
    assert parse_user_query("Lachin\tcorridor\n") == parse_user_query("Lachin corridor")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("relevance", ["x", "y", "z"]),  # a score and a date must be numbers
        ("relevance", [{"script": "1"}, 1, "a"]),
        ("relevance", [float("inf"), 1, "a"]),
        ("time", [True, "a"]),
        ("time", [1.5, "a"]),  # a date sort value is epoch milliseconds
        ("time", [10**30, "a"]),  # beyond a long
        ("time", [1, 2]),
        ("time", [1, "a", "extra"]),
    ],
)
def test_forged_cursor_values_are_refused_before_elasticsearch_sees_them(
    sort: str, values: list[object]
) -> None:
    cursor = encode_cursor({"m": sort, "a": values})
    with pytest.raises(QueryError, match="cursor is not valid"):
        build_search(SearchParams(sort=sort, cursor=cursor), NOW)


def test_cursor_values_as_elasticsearch_returns_them_are_accepted() -> None:
    relevance = encode_cursor({"m": "relevance", "a": [1.0, -(2**63), "r-1"]})
    assert build_search(SearchParams(cursor=relevance), NOW)["search_after"] == [
        1.0,
        -(2**63),
        "r-1",
    ]
