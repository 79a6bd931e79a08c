"""Reports for alert tests: varied languages, sources, sides, entities, events and figures."""

from __future__ import annotations

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

NOW = datetime.now(UTC).replace(microsecond=0)


def make_report(
    report_id: str,
    headline: str,
    body: str = "",
    *,
    story_id: str | None = None,
    language: str = "en",
    source: str = "Azatutyun",
    country: str = "AM",
    affiliation: Affiliation = Affiliation.INDEPENDENT,
    entities: list[tuple[str, str, EntityType]] | None = None,
    events: list[EventType] | None = None,
    figures: list[tuple[FigureKind, int, str | None]] | None = None,
    relevant: bool = True,
    age: timedelta = timedelta(hours=1),
    ingested_at: datetime | None = None,
) -> Report:
    when = NOW - age
    return report(
        report_id,
        headline,
        body,
        when=when,
        article_id=f"art-{report_id}",
        source=SourceInfo(name=source, country=country, affiliation=affiliation),
        ingested_at=ingested_at or when,
        language=language,
        entities=[
            EntityMention(
                id=i,
                name=n,
                type=t,
                lat=40.0 if t == EntityType.PLACE else None,
                lon=46.0 if t == EntityType.PLACE else None,
            )
            for i, n, t in (entities or [])
        ],
        events=[EventLabel(type=e, confidence=0.9, evidence=headline) for e in (events or [])],
        figures=[
            Figure(kind=k, value=v, text=str(v), claimant=c, evidence=headline)
            for k, v, c in (figures or [])
        ],
        relevance=0.9 if relevant else 0.1,
        relevant=relevant,
        content_hash=f"h-{report_id}",
        story_id=story_id or f"story-{report_id}",
    )


def corpus() -> list[Report]:
    P, ORG, L = EntityType.PERSON, EntityType.ORGANIZATION, EntityType.PLACE
    return [
        make_report(
            "rep-00001",
            "Pashinyan meets Aliyev in Brussels",
            "The leaders discussed the peace treaty and border delimitation.",
            entities=[
                ("person:nikol-pashinyan", "Nikol Pashinyan", P),
                ("person:ilham-aliyev", "Ilham Aliyev", P),
            ],
            events=[EventType.PEACE_TALKS, EventType.DIPLOMATIC],
            story_id="story-brussels",
        ),
        make_report(
            "rep-00002",
            "Пашинян и Алиев встретились в Брюсселе",
            "Лидеры обсудили мирный договор.",
            language="ru",
            source="TASS",
            country="RU",
            affiliation=Affiliation.STATE,
            entities=[("person:nikol-pashinyan", "Nikol Pashinyan", P)],
            events=[EventType.PEACE_TALKS],
            story_id="story-brussels",
        ),
        make_report(
            "rep-00003",
            "Paşinyan və Əliyev Brüsseldə görüşüb",
            "Sülh müqaviləsi müzakirə olunub.",
            language="az",
            source="APA",
            country="AZ",
            affiliation=Affiliation.PRO_GOVERNMENT,
            events=[EventType.PEACE_TALKS],
            story_id="story-brussels",
        ),
        make_report(
            "rep-00004",
            "Shelling reported near Tavush border villages",
            "Azerbaijani forces fired on positions; two soldiers killed, according to the Armenian MoD.",
            entities=[("place:tavush", "Tavush", L)],
            events=[EventType.SHELLING_STRIKE, EventType.CEASEFIRE_VIOLATION],
            figures=[(FigureKind.KILLED, 2, "Armenian MoD")],
        ),
        make_report(
            "rep-00005",
            "Ceasefire violation claims denied by Baku",
            "The Azerbaijani defence ministry denied the ceasefire violation.",
            source="Trend",
            country="AZ",
            affiliation=Affiliation.PRO_GOVERNMENT,
            events=[EventType.CEASEFIRE_VIOLATION],
            relevant=True,
        ),
        make_report(
            "rep-00006",
            "Refugees from Karabakh receive housing aid",
            "More than 100,000 people were displaced in September.",
            source="OC Media",
            country="GE",
            affiliation=Affiliation.INDEPENDENT,
            entities=[("place:nagorno-karabakh", "Nagorno-Karabakh", L)],
            events=[EventType.DISPLACEMENT, EventType.HUMANITARIAN_AID],
            figures=[(FigureKind.DISPLACED, 100000, "UNHCR")],
            age=timedelta(days=3),
        ),
        make_report(
            "rep-00007",
            "CSTO exercises postponed again",
            "Armenia declined to host the drills of the CSTO.",
            source="Reuters",
            country="GB",
            affiliation=Affiliation.WIRE,
            entities=[("org:csto", "CSTO", ORG)],
            events=[EventType.ALLIANCE, EventType.MILITARY_EXERCISE],
            age=timedelta(days=10),
        ),
        make_report(
            "rep-00008",
            "Football results of the weekend",
            "Pyunik won the derby.",
            relevant=False,
            source="Armenpress",
            affiliation=Affiliation.STATE,
        ),
        make_report(
            "rep-00009",
            "Erdoğan backs Azerbaijan at summit in Ankara",
            "Turkey reaffirmed support; Ankara hosted the meeting.",
            language="en",
            source="Daily Sabah",
            country="TR",
            affiliation=Affiliation.PRO_GOVERNMENT,
            entities=[("person:recep-tayyip-erdogan", "Recep Tayyip Erdoğan", P)],
            events=[EventType.DIPLOMATIC],
        ),
        make_report(
            "rep-00010",
            "Փաշինյանը հանդիպել է Ալիեւի հետ",
            "Խաղաղության պայմանագիր",
            language="hy",
            source="Armenpress",
            affiliation=Affiliation.STATE,
            entities=[("person:nikol-pashinyan", "Nikol Pashinyan", P)],
            story_id="story-brussels",
        ),
        make_report(
            "rep-00011",
            "EU monitoring mission extended",
            "The EU mission in Armenia (EUMA) was extended for two years.",
            source="EUobserver",
            country="BE",
            affiliation=Affiliation.INTERNATIONAL,
            entities=[("org:euma", "EU Mission in Armenia", ORG)],
            events=[EventType.ALLIANCE],
        ),
        make_report(
            "rep-00012",
            "ICJ hears Armenia v. Azerbaijan case",
            "Hearings on the convention on racial discrimination resumed in The Hague.",
            source="Reuters",
            country="GB",
            affiliation=Affiliation.WIRE,
            events=[EventType.LEGAL_ACTION],
            age=timedelta(days=40),
        ),
    ]


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("Pashinyan", {}),
    ("Пашинян", {}),
    ("pashinyan AND aliyev", {}),
    ("pashinyan -aliyev", {}),
    ('"peace treaty"', {}),
    ("ceasefir*", {}),
    ("shelling OR refugees", {}),
    ("(shelling OR ceasefire) AND NOT denied", {}),
    ("", {"lang": ["ru", "az"]}),
    ("", {"country": ["AZ"]}),
    ("", {"affiliation": ["state"]}),
    ("", {"entity": ["person:nikol-pashinyan"]}),
    ("", {"entity": ["person:nikol-pashinyan", "person:ilham-aliyev"]}),
    ("", {"event": ["ceasefire_violation"]}),
    ("", {"figure": ["killed", "displaced"]}),
    ("", {"relevant": False}),
    ("", {"since": "2d"}),
    ("", {"until": "5d"}),
    ("", {"source": ["Reuters"]}),
    ("armenia", {"since": "30d", "affiliation": ["wire", "international"]}),
    ("Ankara", {"country": ["TR"], "event": ["diplomatic"]}),
    ("Erdogan", {}),
    ("Aliyev", {"lang": ["az"]}),
    ("housing", {"relevant": True}),
    ("nothingmatchesthis", {}),
]
