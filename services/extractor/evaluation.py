"""Accuracy harness: precision / recall / F1 of entities, events, figures and language on a
labelled set (tests/extractor/fixtures/labelled.yaml), in the manner of trafilatura's
evaluation: the benchmark prints the scores, a test pins floors so a regression fails CI.

    python -m services.extractor.evaluation [LABELLED_YAML]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.extractor.dedup import DedupState
from services.extractor.pipeline import ExtractorConfig, extract

DEFAULT_SET = (
    Path(__file__).resolve().parents[2] / "tests" / "extractor" / "fixtures" / "labelled.yaml"
)
FIELDS = ("entities", "events", "figures", "language")


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, item_id: str, predicted: set[str], expected: set[str]) -> None:
        self.tp += len(predicted & expected)
        self.fp += len(predicted - expected)
        self.fn += len(expected - predicted)
        for label in sorted(predicted - expected):
            self.misses.append(f"{item_id}: unexpected {label}")
        for label in sorted(expected - predicted):
            self.misses.append(f"{item_id}: missed {label}")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_labelled(path: Path = DEFAULT_SET) -> list[dict[str, Any]]:
    items: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return list(items)


def evaluate(
    items: list[dict[str, Any]], config: ExtractorConfig | None = None
) -> dict[str, Score]:
    config = config or ExtractorConfig()
    scores = {name: Score() for name in FIELDS}
    for n, item in enumerate(items):
        raw = RawArticle(
            article_id=f"labelled-{n:04d}",
            source=SourceInfo(name="labelled"),
            text=item["text"],
            ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        reports = extract(raw, DedupState(), config)
        item_id = str(item.get("id", n))
        entities = {e.id for r in reports for e in r.entities}
        events = {e.type.value for r in reports for e in r.events}
        figures = {f"{f.kind.value}:{f.value}" for r in reports for f in r.figures}
        scores["entities"].add(item_id, entities, set(item.get("entities") or []))
        scores["events"].add(item_id, events, set(item.get("events") or []))
        expected_figures = {f"{f['kind']}:{f['value']}" for f in item.get("figures") or []}
        scores["figures"].add(item_id, figures, expected_figures)
        scores["language"].add(item_id, {reports[0].language}, {str(item["language"])})
    return scores


def summary(scores: dict[str, Score]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, score in scores.items():
        out[f"{name}_precision"] = round(score.precision, 4)
        out[f"{name}_recall"] = round(score.recall, 4)
        out[f"{name}_f1"] = round(score.f1, 4)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_SET
    scores = evaluate(load_labelled(path))
    print(f"{'field':10s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
    for name, score in scores.items():
        print(f"{name:10s} {score.precision:9.3f} {score.recall:7.3f} {score.f1:6.3f}")
    for name, score in scores.items():
        for miss in score.misses:
            print(f"  {name}: {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
