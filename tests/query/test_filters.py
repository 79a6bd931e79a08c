from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.alerts.models import Subscription, SubscriptionInput
from services.query.bodies import build_query
from services.query.params import MAX_FILTER_VALUES, Filters, SearchParams
from services.query.syntax import QueryError

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
WIRE = {
    "lang": ["ru"],
    "source": ["TASS"],
    "country": ["RU"],
    "affiliation": ["state"],
    "entity": ["person:pashinyan"],
    "event": ["armed_clash"],
    "figure": ["killed"],
    "since": "7d",
    "until": None,
    "relevant": True,
    "change": ["edited", "withdrawn"],
    "pushed_by": ["tok-analyst"],
}


def test_a_stored_subscription_keeps_its_filter_names_on_the_wire() -> None:
    sub = Subscription.model_validate({"query": "ceasefire", "filters": WIRE})
    assert sub.model_dump(mode="json")["filters"] == WIRE
    assert Subscription.model_validate_json(sub.model_dump_json()) == sub


def test_a_subscription_matches_as_the_search_request_with_the_same_filters() -> None:
    sub = Subscription.model_validate({"query": "ceasefire", "filters": WIRE})
    request = SearchParams(
        q="ceasefire",
        languages=["ru"],
        sources=["TASS"],
        countries=["RU"],
        affiliations=["state"],
        entities=["person:pashinyan"],
        event_types=["armed_clash"],
        figure_kinds=["killed"],
        since="7d",
        relevant=True,
        changes=["edited", "withdrawn"],
        pushed_by=["tok-analyst"],
    )
    assert build_query(sub.search_params(), NOW) == build_query(request, NOW)


def test_filters_accept_the_code_names_and_the_wire_names_alike() -> None:
    assert Filters(lang=["en"]) == Filters(languages=["en"])


@pytest.mark.parametrize(
    "filters",
    [{"entity": ["x"] * (MAX_FILTER_VALUES + 1)}, {"source": ["x" * 201]}, {"since": "1" * 65}],
)
def test_filters_over_their_bounds_are_refused_by_search_and_subscriptions_alike(
    filters: dict[str, object],
) -> None:
    with pytest.raises(QueryError):
        build_query(SearchParams.model_validate(filters), NOW)
    with pytest.raises(ValidationError):
        SubscriptionInput.model_validate({"filters": filters})


def test_the_change_filter_asks_for_the_latest_change_and_refuses_other_values() -> None:
    query = build_query(SearchParams(changes=["Withdrawn", "edited"]), NOW)
    assert {"terms": {"change": ["edited", "withdrawn"]}} in query["bool"]["filter"]
    with pytest.raises(QueryError, match="change="):
        build_query(SearchParams(changes=["deleted"]), NOW)


def test_the_pushed_by_filter_finds_what_one_api_token_pushed() -> None:
    query = build_query(SearchParams(pushed_by=["tok-b", "tok-a"]), NOW)
    assert {"terms": {"pushed_by": ["tok-a", "tok-b"]}} in query["bool"]["filter"]
