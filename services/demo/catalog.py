"""The demo corpus's data files (outlets, entities, templates), loaded once and typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from schemas.common import Affiliation, SourceInfo, SourceKind
from schemas.report import EntityType

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Outlet:
    key: str
    name: str
    domain: str
    country: str
    language: str
    affiliation: Affiliation
    side: str
    city: str
    weight: int
    events: tuple[str, ...] = ()

    @property
    def home(self) -> str:
        return f"https://{self.domain}/"

    def source_info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            kind=SourceKind.DEMO,
            url=self.home,
            country=self.country,
            language=self.language,
            affiliation=self.affiliation,
        )


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: EntityType
    forms: dict[str, tuple[str, ...]]
    az_forms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    country: str | None = None
    lat: float | None = None
    lon: float | None = None

    def spellings(self, language: str, az_naming: bool) -> tuple[str, ...]:
        if az_naming and language in self.az_forms:
            return self.az_forms[language]
        return self.forms.get(language) or self.forms["en"]


@dataclass(frozen=True)
class Catalog:
    outlets: tuple[Outlet, ...]
    entities: dict[str, Entity]
    slots: dict[str, tuple[str, ...]]
    languages: dict[str, dict[str, Any]]

    def events_in(self, language: str) -> dict[str, dict[str, Any]]:
        events: dict[str, dict[str, Any]] = self.languages[language].get("events", {})
        return events

    def outlets_for_event(self, event: str) -> list[Outlet]:
        return [
            o
            for o in self.outlets
            if event in self.events_in(o.language) and (not o.events or event in o.events)
        ]


def _read(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _forms(raw: dict[str, list[str]] | None) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(str(v) for v in values) for lang, values in (raw or {}).items()}


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    outlets = tuple(
        Outlet(
            key=o["key"],
            name=o["name"],
            domain=o["domain"],
            country=o["country"],
            language=o["language"],
            affiliation=Affiliation(o["affiliation"]),
            side=o["side"],
            city=str(o["city"]),
            weight=int(o.get("weight", 1)),
            events=tuple(o.get("events") or ()),
        )
        for o in _read("sources.yaml")
    )
    raw_entities = _read("entities.yaml")
    entities = {
        e["id"]: Entity(
            id=e["id"],
            name=e["name"],
            type=EntityType(e["type"]),
            forms=_forms(e["forms"]),
            az_forms=_forms(e.get("az_forms")),
            country=e.get("country"),
            lat=e.get("lat"),
            lon=e.get("lon"),
        )
        for e in raw_entities["entities"]
    }
    slots = {name: tuple(ids) for name, ids in raw_entities["slots"].items()}
    missing = sorted({i for ids in slots.values() for i in ids} - set(entities))
    if missing:
        raise ValueError(f"entities.yaml slots name unknown entities: {missing}")
    return Catalog(
        outlets=outlets, entities=entities, slots=slots, languages=_read("templates.yaml")
    )
