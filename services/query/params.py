"""What a search asks: the filters and the request options. Pure.

`Filters` is the one filters model: search requests, the live feed and subscriptions all use
it, so a filter means the same everywhere and cannot drift. Its fields have the code's names
(`languages`); their aliases are the names on the wire, the search API's parameters and a
stored subscription's `filters` keys (`lang`), so no endpoint or stored subscription changes
meaning. Both names are accepted; the wire name is written.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.query.syntax import QueryError

# Bounds per filter: a subscription's query is searched on every round, for every batch, and
# a search request should not cost more. Checked by `Filters.check_bounds` (QueryError), not by
# the field types, so that a search request is refused by the query layer in its words, as any
# other mistake is, and a subscription (which checks at validation) by pydantic.
MAX_FILTER_VALUES = 100
MAX_FILTER_VALUE_CHARS = 200
MAX_TIME_CHARS = 64


def _values(alias: str, description: str) -> list[str]:
    return Field(default_factory=list, alias=alias, description=description)


class Filters(BaseModel):
    """Which reports: every filter given must hold (values of one filter: any of them, except
    entities, which must all be mentioned)."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    languages: list[str] = _values("lang", "Language codes (en, ru, hy, az, ...)")
    sources: list[str] = _values("source", "Source names")
    countries: list[str] = _values("country", "Source countries (ISO alpha-2)")
    affiliations: list[str] = _values("affiliation", "Source affiliations")
    entities: list[str] = _values("entity", "Entity ids; every one must be mentioned")
    event_types: list[str] = _values("event", "Event types")
    figure_kinds: list[str] = _values("figure", "Figure kinds (killed, displaced, ...)")
    since: str | None = Field(default=None, description="7d, 24h, 30m or an ISO date")
    until: str | None = Field(default=None, description="7d, 24h, 30m or an ISO date")
    relevant: bool | None = Field(default=None, description="Only (un)relevant reports")
    changes: list[str] = _values(
        "change", "Statement history: edited, withdrawn (the report's latest change)"
    )
    pushed_by: list[str] = _values(
        "pushed_by", "Provenance of pushed items: the id of the API token that pushed them"
    )

    def check_bounds(self) -> None:
        """Raises QueryError (a ValueError) naming the first filter over its bounds."""
        for name, field in Filters.model_fields.items():
            value, wire = getattr(self, name), field.alias or name
            if isinstance(value, list):
                if len(value) > MAX_FILTER_VALUES:
                    raise QueryError(f"{wire}: at most {MAX_FILTER_VALUES} values")
                if any(len(v) > MAX_FILTER_VALUE_CHARS for v in value):
                    raise QueryError(
                        f"{wire}: a value has more than {MAX_FILTER_VALUE_CHARS} characters"
                    )
            elif isinstance(value, str) and len(value) > MAX_TIME_CHARS:
                raise QueryError(f"{wire}: at most {MAX_TIME_CHARS} characters")


class SearchParams(Filters):
    """A search request: the user query, the filters, and how to answer (page, facets...)."""

    q: str = ""
    story_id: str | None = None
    sort: str = "relevance"
    size: int = 20
    cursor: str | None = None
    collapse: bool = False
    facets: bool = False
    facet_size: int = 10
    interval: str = "day"
    highlight: bool = True


WIRE_NAMES = {name: field.alias for name, field in Filters.model_fields.items() if field.alias}
"""Filter field -> its name on the wire (`languages` -> `lang`)."""
