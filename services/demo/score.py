"""Score extracted reports against a generated corpus's ground truth (manifest.json).

The generator knows what every article says (language, entities, event type, figures, story,
near-duplicate of), so a corpus doubles as a labelled test set for the extractor. Scores are
plain ratios; an article without a report counts as missed everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.report import Report


@dataclass
class Score:
    articles: int = 0
    reports: int = 0
    language_ok: int = 0
    relevant_ok: int = 0
    entities_expected: int = 0
    entities_found: int = 0
    events_expected: int = 0
    event_top_ok: int = 0
    figures_expected: int = 0
    figures_found: int = 0
    near_duplicates_expected: int = 0
    near_duplicates_found: int = 0
    missed_entities: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @staticmethod
    def _ratio(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 1.0

    def as_dict(self) -> dict[str, float]:
        """Flat, one number per key (the benchmark JSON's shape)."""
        return {
            "articles": self.articles,
            "reports": self.reports,
            "language_accuracy": self._ratio(self.language_ok, self.articles),
            "relevance_accuracy": self._ratio(self.relevant_ok, self.articles),
            "entity_recall": self._ratio(self.entities_found, self.entities_expected),
            "event_top1_accuracy": self._ratio(self.event_top_ok, self.events_expected),
            "figure_recall": self._ratio(self.figures_found, self.figures_expected),
            "near_duplicate_recall": self._ratio(
                self.near_duplicates_found, self.near_duplicates_expected
            ),
        }


def score_reports(truth: Mapping[str, Mapping[str, Any]], reports: Iterable[Report]) -> Score:
    """`truth`: services.demo.writers.read_manifest(); reports are matched by URL."""
    by_url: dict[str, Report] = {}
    for candidate in reports:
        if candidate.url:
            by_url.setdefault(candidate.url, candidate)
    score = Score(articles=len(truth))
    for url, expected in truth.items():
        report = by_url.get(url)
        score.entities_expected += len(expected["entity_ids"])
        score.figures_expected += len(expected["figures"])
        score.events_expected += expected["event_type"] is not None
        score.near_duplicates_expected += expected["near_duplicate_of"] is not None
        if report is None:
            for entity_id in expected["entity_ids"]:
                score.missed_entities[entity_id] += 1
            continue
        score.reports += 1
        score.language_ok += report.language == expected["language"]
        score.relevant_ok += report.relevant == expected["relevant"]
        found = {e.id for e in report.entities}
        for entity_id in expected["entity_ids"]:
            if entity_id in found:
                score.entities_found += 1
            else:
                score.missed_entities[entity_id] += 1
        if expected["event_type"] and report.events:
            score.event_top_ok += report.events[0].type.value == expected["event_type"]
        got = {(f.kind.value, f.value) for f in report.figures}
        score.figures_found += sum((f["kind"], f["value"]) in got for f in expected["figures"])
        if expected["near_duplicate_of"]:
            score.near_duplicates_found += bool(report.near_duplicate_of or report.duplicate_of)
    return score
