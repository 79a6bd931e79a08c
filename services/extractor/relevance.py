"""Relevance: is this report about the Caucasus conflict at all? A score from the weights the
gazetteer gives each entity (Nagorno-Karabakh 1.0, Russia 0.05, ...), plus a little for each
conflict event label, squashed to 0..1; the flag compares it with a threshold from settings."""

from __future__ import annotations

import math

from schemas.report import EntityMention, EventLabel
from services.extractor.gazetteer import Gazetteer

STEEPNESS = 1.2
EVENT_BONUS = 0.1  # per event label, only when some conflict entity is there too
MAX_EVENTS_COUNTED = 3


def relevance_score(
    entities: list[EntityMention], events: list[EventLabel], gaz: Gazetteer
) -> float:
    total = 0.0
    for mention in entities:
        entry = gaz.entries.get(mention.id)
        if entry is None:
            continue
        repeat = 1.0 + 0.5 * min(mention.count - 1, 2)  # repeated mentions count, but saturate
        total += entry.weight * repeat
    if total > 0:
        total += EVENT_BONUS * min(len(events), MAX_EVENTS_COUNTED)
    return round(1.0 - math.exp(-STEEPNESS * total), 4)


def is_relevant(score: float, threshold: float) -> bool:
    return score >= threshold
