"""Report fixtures built with the schema models (shared by tests/indexer and tests/search)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.factories import report
from schemas.common import Affiliation, SourceInfo
from schemas.report import (
    EntityMention,
    EntityType,
    EventLabel,
    EventType,
    Figure,
    FigureKind,
    Report,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

PASHINYAN = EntityMention(
    id="person:nikol-pashinyan", name="Nikol Pashinyan", type=EntityType.PERSON
)
ALIYEV = EntityMention(id="person:ilham-aliyev", name="Ilham Aliyev", type=EntityType.PERSON)
LACHIN = EntityMention(
    id="place:lachin", name="Lachin", type=EntityType.PLACE, country="AZ", lat=39.64, lon=46.55
)
OSCE = EntityMention(id="org:osce", name="OSCE", type=EntityType.ORGANIZATION)


def make_report(n: int = 0, **overrides: Any) -> Report:
    """A valid report; `n` varies ids and times, keyword overrides set any field."""
    headline = overrides.pop("headline", f"Ceasefire holds near Lachin corridor, day {n}")
    body = overrides.pop(
        "body",
        "Armenian and Azerbaijani officials said the ceasefire held overnight along the Lachin "
        "corridor. Prime Minister Nikol Pashinyan called for talks mediated by the OSCE.",
    )
    rid = overrides.pop("report_id", f"r-{n:06d}-{hashlib.sha1(str(n).encode()).hexdigest()[:8]}")
    published = overrides.pop("published", NOW - timedelta(hours=n))
    values: dict[str, Any] = {
        "url": f"https://example.org/news/{rid}",
        "source": SourceInfo(
            name="Example Wire", country="GB", language="en", affiliation=Affiliation.WIRE
        ),
        "published": published,
        "ingested_at": published + timedelta(minutes=5) if published else NOW,
        "extracted_at": (published or NOW) + timedelta(minutes=6),
        "language": "en",
        "language_confidence": 0.99,
        "entities": [PASHINYAN, LACHIN, OSCE],
        "events": [
            EventLabel(type=EventType.CEASEFIRE, confidence=0.9, evidence="the ceasefire held")
        ],
        "figures": [],
        "relevance": 0.9,
        "relevant": True,
        "story_id": f"s-{rid}",
    }
    return report(rid, headline, body, when=published or NOW, **{**values, **overrides})


def killed(value: int = 3) -> Figure:
    return Figure(
        kind=FigureKind.KILLED,
        value=value,
        text=str(value),
        subject="soldiers",
        claimant="Ministry of Defence",
        evidence=f"{value} soldiers were killed",
    )
