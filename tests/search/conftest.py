"""A small multilingual corpus indexed with the indexer's own template and documents."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.common import Affiliation, SourceInfo
from schemas.report import EntityMention, EntityType, EventLabel, EventType, Figure, FigureKind
from services.indexer.documents import index_for, to_document
from services.indexer.migrate import put_template
from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings
from tests.indexer.reportgen import ALIYEV, LACHIN, OSCE, PASHINYAN, make_report
from tests.support import api_token, bearer

NOW = datetime.now(UTC).replace(microsecond=0)
TAVUSH = EntityMention(
    id="place:tavush", name="Tavush", type=EntityType.PLACE, country="AM", lat=40.9, lon=45.1
)


def _src(name: str, country: str, lang: str, aff: Affiliation) -> SourceInfo:
    return SourceInfo(name=name, country=country, language=lang, affiliation=aff)


def _event(kind: EventType) -> list[EventLabel]:
    return [EventLabel(type=kind, confidence=0.9, evidence="...")]


def _fig(kind: FigureKind, value: int) -> Figure:
    return Figure(kind=kind, value=value, text=str(value), evidence="...")


def corpus() -> list[Any]:
    wire = _src("Example Wire", "GB", "en", Affiliation.WIRE)
    return [
        make_report(
            1,
            report_id="r-en-ceasefire",
            story_id="s-ceasefire",
            source=wire,
            headline="Ceasefire holds near Lachin corridor",
            body="The ceasefire held overnight along the Lachin corridor, officials said. "
            "Prime Minister Nikol Pashinyan called for talks mediated by the OSCE.",
            published=NOW - timedelta(hours=1),
            entities=[PASHINYAN, LACHIN, OSCE],
            events=_event(EventType.CEASEFIRE),
        ),
        make_report(
            2,
            report_id="r-ru-ceasefire",
            story_id="s-ceasefire",
            source=_src("ТАСС", "RU", "ru", Affiliation.STATE),
            language="ru",
            headline="Пашинян заявил о соблюдении перемирия в Лачинском коридоре",
            body="Премьер-министр Армении Никол Пашинян заявил, что режим прекращения огня "
            "в Лачинском коридоре соблюдается.",
            published=NOW - timedelta(hours=2),
            entities=[PASHINYAN, LACHIN],
            events=_event(EventType.CEASEFIRE),
        ),
        make_report(
            3,
            report_id="r-hy-talks",
            story_id="s-talks",
            source=_src("Azatutyun", "AM", "hy", Affiliation.INDEPENDENT),
            language="hy",
            headline="Փաշինյանը խաղաղության բանակցությունների մասին",
            body="Վարչապետ Նիկոլ Փաշինյանը հայտարարեց, որ բանակցությունները շարունակվում են։",
            published=NOW - timedelta(hours=3),
            entities=[PASHINYAN],
            events=_event(EventType.PEACE_TALKS),
        ),
        make_report(
            4,
            report_id="r-az-clash",
            story_id="s-clash",
            source=_src("APA", "AZ", "az", Affiliation.PRO_GOVERNMENT),
            language="az",
            headline="Əliyev: sərhəddə atışma, üç hərbçi həlak olub",
            body="Prezident İlham Əliyev bildirib ki, sərhəddə atışma zamanı üç hərbçi həlak olub.",
            published=NOW - timedelta(days=30),
            entities=[ALIYEV],
            events=_event(EventType.ARMED_CLASH),
            figures=[_fig(FigureKind.KILLED, 3)],
        ),
        make_report(
            5,
            report_id="r-en-football",
            story_id="s-football",
            source=wire,
            headline="Football: Yerevan club wins the cup",
            body="The home side won two-nil in front of a full stadium.",
            published=NOW - timedelta(hours=5),
            entities=[],
            events=[],
            relevant=False,
            relevance=0.05,
        ),
        make_report(
            6,
            report_id="r-en-shelling",
            story_id="s-shelling",
            source=wire,
            headline="Shelling reported near Tavush border, two soldiers killed",
            body="Two soldiers were killed and three wounded when shelling hit positions near "
            "the Tavush border, the defence ministry said. The ceasefire was broken.",
            published=NOW - timedelta(hours=4),
            entities=[TAVUSH],
            events=_event(EventType.SHELLING_STRIKE),
            figures=[_fig(FigureKind.KILLED, 2), _fig(FigureKind.WOUNDED, 3)],
        ),
    ]


def index_reports(es: Any, settings: IndexerSettings, reports: list[Any]) -> None:
    put_template(es, settings)
    ops: list[dict[str, Any]] = []
    for report in reports:
        ops.append(
            {"index": {"_index": index_for(report, settings.index_alias), "_id": report.report_id}}
        )
        ops.append(to_document(report, NOW))
    response = es.bulk(operations=ops, refresh=True)
    assert not response["errors"], response


def _drop(es: Any, ns: str) -> None:
    # Concrete names: clusters may refuse wildcard deletes (action.destructive_requires_name).
    quiet = es.options(ignore_status=404)
    names = [
        n for n in quiet.indices.get(index=f"{ns}-*", allow_no_indices=True) if n.startswith(ns)
    ]
    if names:
        quiet.indices.delete(index=",".join(names))
    for template in quiet.indices.get_index_template(name=f"{ns}-*").get("index_templates", []):
        quiet.indices.delete_index_template(name=template["name"])


@pytest.fixture(scope="module")
def api(es_client: Any) -> Iterator[Any]:
    """One read-only corpus for a whole test module: the API tests only search it."""
    from services.api.app import create_app
    from tests.support import local_client

    ns = f"t{uuid.uuid4().hex[:8]}"
    try:
        index_reports(es_client, IndexerSettings(namespace=ns), corpus())
        with local_client(create_app(SearchSettings(namespace=ns), es=es_client)) as client:
            client.headers.update(bearer(api_token(es_client, ns, "admin")))
            yield client
    finally:
        _drop(es_client, ns)
