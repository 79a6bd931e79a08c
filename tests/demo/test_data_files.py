"""The demo data files users extend (outlets, entities, templates) stay consistent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from schemas.report import EventType
from services.demo.catalog import load_catalog
from services.demo.generator import EVENT_WEIGHTS, generate

STORY_VALUES = {"claimant", "denier", "claim_country", "accused", "fig", "date"}
LANGUAGE_KEYS = {
    "months",
    "date",
    "thousands",
    "more_than",
    "sides",
    "civilians",
    "figure",
    "claim",
    "denial",
    "footer",
    "chrome",
    "related",
    "background",
    "quote",
    "events",
    "irrelevant",
}


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def test_every_outlet_language_has_complete_templates() -> None:
    catalog = load_catalog()
    for outlet in catalog.outlets:
        lang = catalog.languages[outlet.language]
        missing = LANGUAGE_KEYS - set(lang)
        assert not missing, (outlet.language, missing)
        assert len(lang["months"]) == 12
        assert set(lang["sides"]) == {"am", "az"}
        assert lang["footer"].startswith("[generated demo]")


def test_templates_only_use_known_slots() -> None:
    catalog = load_catalog()
    allowed = set(catalog.slots) | STORY_VALUES
    for code, lang in catalog.languages.items():
        for section in ("events", "irrelevant", "background", "quote", "claim", "denial"):
            for text in strings(lang[section]):
                unknown = set(re.findall(r"\{(\w+)\}", text)) - allowed
                assert not unknown, (code, text)


def test_event_keys_are_schema_event_types_and_english_covers_them_all() -> None:
    catalog = load_catalog()
    for code, lang in catalog.languages.items():
        for event, spec in lang["events"].items():
            EventType(event)
            assert spec["headline"] and spec["lede"], (code, event)
    assert set(catalog.events_in("en")) == {e.value for e in EVENT_WEIGHTS}


def test_entities_have_english_spellings_and_outlets_are_on_example_domains() -> None:
    catalog = load_catalog()
    for entity in catalog.entities.values():
        assert entity.forms.get("en"), entity.id
    for outlet in catalog.outlets:
        assert outlet.domain.endswith(".example"), outlet.key
    assert len({o.key for o in catalog.outlets}) == len(catalog.outlets)


def test_outlets_restricted_to_some_events_only_report_those() -> None:
    catalog = load_catalog()
    restricted = [o for o in catalog.outlets if o.events]
    assert restricted
    for outlet in restricted:
        for event in outlet.events:
            EventType(event)
    articles = generate(1500, seed=3)
    for article in articles:
        if article.relevant and article.outlet.events:
            assert article.category in article.outlet.events
