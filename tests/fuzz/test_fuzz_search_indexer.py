"""Properties of query parsing (search API, alert subscriptions) and of document mapping
(indexer): only documented errors, bounded output, within a time and memory bound per input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from schemas.common import SourceInfo
from schemas.report import Report
from services.indexer.documents import (
    document_json,
    effective_date,
    index_for,
    report_from_document,
    to_document,
)
from services.indexer.mapping import parse_index_name
from services.query.bodies import build_search, decode_cursor
from services.query.params import SearchParams
from services.query.syntax import QueryError, parse_time, parse_user_query
from tests.fuzz.budget import Budget
from tests.fuzz.strategies import date_strings, extreme_datetimes, nasty_text

budget = Budget(seconds=2.0, megabytes=200.0)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

query_words = st.one_of(
    st.sampled_from(
        ["AND", "OR", "NOT", "-", "+", "|", "||", "&&", "(", ")", '"', '""', "*", "ab*", "a*b*",
         "Pashinyan", "Пашинян", "Փաշինյան", "peace", '"peace treaty"', "-war", "?x", "\\"]
    ),
    nasty_text,
)  # fmt: skip
queries = st.one_of(st.lists(query_words, max_size=80).map(" ".join), nasty_text)


@given(queries)
@example("(" * 500 + "a" + ")" * 500)
@example("a " * 64 + "b")
def test_user_query_is_bounded_and_only_raises_query_error(query: str) -> None:
    with budget(query):
        try:
            parsed = parse_user_query(query)
        except QueryError:
            return
    if parsed is not None:
        folded, typed = parsed
        # escaping doubles a character at most; folding transliterates (a few letters each)
        assert len(typed) <= 4 * len(query) + 16
        assert len(folded) <= 8 * len(query) + 16


search_params = st.builds(
    SearchParams,
    q=queries,
    languages=st.lists(nasty_text, max_size=3),
    sources=st.lists(nasty_text, max_size=3),
    countries=st.lists(st.one_of(st.sampled_from(["AM", "az", "RU"]), nasty_text), max_size=2),
    affiliations=st.lists(
        st.one_of(st.sampled_from(["state", "independent"]), nasty_text), max_size=2
    ),
    entities=st.lists(nasty_text, max_size=3),
    event_types=st.lists(nasty_text, max_size=2),
    since=st.one_of(st.none(), date_strings, st.sampled_from(["7d", "99999y", "1m", "0h"])),
    until=st.one_of(st.none(), date_strings),
    sort=st.sampled_from(["relevance", "time", "x"]),
    size=st.integers(-5, 500),
    cursor=st.one_of(st.none(), nasty_text, st.sampled_from(["e30", "eyJtIjoidGltZSJ9", "===="])),
    collapse=st.booleans(),
    facets=st.booleans(),
    facet_size=st.integers(-1, 1000),
    interval=st.sampled_from(["day", "hour", "x"]),
)


@given(search_params)
def test_search_request_only_raises_query_error(params: SearchParams) -> None:
    with budget(params.q):
        try:
            body = build_search(params, NOW)
        except QueryError:
            return
    json.dumps(body)  # what the client sends must serialise


@given(st.one_of(nasty_text, st.binary(max_size=200).map(lambda b: b.hex())))
def test_cursor_decoding_only_raises_query_error(cursor: str) -> None:
    with budget(cursor):
        try:
            decode_cursor(cursor, "time")
        except QueryError:
            pass


@given(st.one_of(date_strings, st.sampled_from(["99999y", "99999w", "0m", " 7d "])))
def test_time_parameters_only_raise_query_error(value: str) -> None:
    with budget(value):
        try:
            parsed = parse_time(value, NOW)
        except QueryError:
            return
    assert parsed.tzinfo is not None


reports = st.builds(
    lambda headline, body, published, ingested, folded: Report(
        report_id="fuzz-report-1",
        article_id="fuzz-article-1",
        source=SourceInfo(name="fuzz"),
        headline=headline,
        body=body,
        published=published,
        ingested_at=ingested,
        extracted_at=NOW,
        content_hash="h",
        story_id="s",
        folded_text=folded,
    ),
    nasty_text,
    nasty_text,
    st.one_of(st.none(), extreme_datetimes),
    st.one_of(extreme_datetimes, st.just(NOW)),
    st.one_of(st.just(""), nasty_text),
)


@given(reports, extreme_datetimes)
@example(
    Report(
        report_id="fuzz-report-1",
        article_id="fuzz-article-1",
        source=SourceInfo(name="fuzz"),
        headline="h",
        body="b",
        published=datetime.fromisoformat("0001-01-01T00:00:00+01:00"),
        ingested_at=datetime.fromisoformat("9999-12-31T23:59:00-01:00"),
        extracted_at=NOW,
        content_hash="h",
        story_id="s",
        folded_text="",
    ),
    datetime.fromisoformat("0001-01-01T00:30:00+01:00"),
)
def test_document_mapping_never_raises_and_round_trips(
    report: Report, indexed_at: datetime
) -> None:
    with budget(report.body):
        doc = to_document(report, indexed_at)
        text = document_json(report, indexed_at)
        index = index_for(report, "cwatch-reports", now=indexed_at)
    assert json.loads(text) == json.loads(json.dumps(doc))
    parsed = parse_index_name(index)
    assert parsed is not None
    # the indexer passes one instant to both: the document lies in the month of its own date
    assert parsed[2] == datetime.fromisoformat(doc["date"]).strftime("%Y.%m")
    assert report_from_document(doc).report_id == report.report_id
    assert len(text) <= 4 * (len(report.model_dump_json()) + len(report.body)) + 2000
    assert effective_date(report).tzinfo is not None


@given(reports)
@example(
    Report(
        report_id="fuzz-report-1",
        article_id="fuzz-article-1",
        source=SourceInfo(name="fuzz"),
        headline="h",
        body="b",
        published=datetime(1, 1, 1, tzinfo=UTC),
        ingested_at=NOW,
        extracted_at=NOW,
        content_hash="h",
        story_id="s",
        folded_text="",
    )
)
def test_reports_are_filed_in_a_plausible_month(report: Report) -> None:
    """A publisher's date cannot create an index for a month far in the past (issue 13: one
    thousand pushed months would reach the shards-per-node limit)."""
    with budget(report.published):
        when = effective_date(report)
    assert when >= datetime(1990, 1, 1, tzinfo=UTC)
