"""Contracts between the services: one pydantic model per topic, plus topic and index names.

The data flows raw -> report -> indexed -> alert; dead letters from any stage go to one topic.
"""

from schemas.alert import Alert
from schemas.common import Affiliation, SourceInfo, SourceKind
from schemas.deadletter import DeadLetter, Stage
from schemas.indexed import IndexedEvent
from schemas.raw import RawArticle
from schemas.report import (
    EntityMention,
    EntityType,
    EventLabel,
    EventType,
    Figure,
    FigureKind,
    LanguageSpan,
    Report,
)
from schemas.topics import INDEX_ALIAS, SCHEMA_VERSION, TOPICS, TopicNames, TopicSpec

__all__ = [
    "INDEX_ALIAS",
    "SCHEMA_VERSION",
    "TOPICS",
    "Affiliation",
    "Alert",
    "DeadLetter",
    "EntityMention",
    "EntityType",
    "EventLabel",
    "EventType",
    "Figure",
    "FigureKind",
    "IndexedEvent",
    "LanguageSpan",
    "RawArticle",
    "Report",
    "SourceInfo",
    "SourceKind",
    "Stage",
    "TopicNames",
    "TopicSpec",
]
