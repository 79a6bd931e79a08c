"""Accuracy harness: precision / recall / F1 of entities, events, figures and language on a
labelled set (tests/extractor/fixtures/labelled.yaml), in the manner of trafilatura's
evaluation: the benchmark prints the scores, a test pins floors so a regression fails CI.
Events have their own, larger set (tests/extractor/fixtures/events_labelled.yaml, about a
third negatives, a dev and a held-out split): `evaluate_events` scores it per label.

    python -m devtools.evaluation [LABELLED_YAML]
    python -m devtools.evaluation --events [dev|heldout|fresh]
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
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
    Path(__file__).resolve().parents[1] / "tests" / "extractor" / "fixtures" / "labelled.yaml"
)
EVENTS_SET = DEFAULT_SET.with_name("events_labelled.yaml")
EVENT_FLOORS = DEFAULT_SET.with_name("event_floors.yaml")
LANGUAGE_SET = DEFAULT_SET.with_name("language_labelled.yaml")
ENTITY_NEGATIVES = DEFAULT_SET.with_name("entity_negatives.yaml")
FLOORS = DEFAULT_SET.with_name("accuracy_floors.yaml")  # language, entity negatives, own pages
FIELDS = ("entities", "events", "figures", "language")
CALIBRATION_AT = 0.9


_TOKEN = re.compile(r"\w+")


def body_f1(predicted: str | None, gold: str) -> float:
    """Bag-of-words F1 of an extracted body against the expected one (lower-cased word
    tokens, multiset overlap), as the benchmark scores article bodies."""
    p = Counter(_TOKEN.findall((predicted or "").lower()))
    g = Counter(_TOKEN.findall(gold.lower()))
    tp = sum((p & g).values())
    if not tp:
        return 0.0
    precision, recall = tp / sum(p.values()), tp / sum(g.values())
    return 2 * precision * recall / (precision + recall)


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


@dataclass
class EventScores:
    """Scores of the event tagger on the events set: per label, micro-averaged, negatives
    (items that report no event) left without a label, and calibration (of the labels emitted
    at confidence >= CALIBRATION_AT, the share that is right)."""

    labels: dict[str, Score] = field(default_factory=dict)
    micro: Score = field(default_factory=Score)
    negatives: int = 0
    clean_negatives: int = 0
    confident: int = 0
    confident_right: int = 0
    positives: int = 0
    primary_right: int = 0

    def add(
        self, item: dict[str, Any], labels: list[tuple[str, float]], primary: str | None
    ) -> None:
        item_id = str(item.get("id"))
        expected = set(item.get("events") or [])
        predicted = {name for name, _ in labels}
        self.micro.add(item_id, predicted, expected)
        for name in predicted | expected:
            self.labels.setdefault(name, Score()).add(
                item_id, predicted & {name}, expected & {name}
            )
        if not expected:
            self.negatives += 1
            self.clean_negatives += not predicted
        else:
            self.positives += 1
            self.primary_right += primary == item.get("primary")
        for name, confidence in labels:
            if confidence >= CALIBRATION_AT:
                self.confident += 1
                self.confident_right += name in expected

    def summary(self, prefix: str = "events", per_label: bool = True) -> dict[str, float]:
        out = {
            f"{prefix}_precision": round(self.micro.precision, 4),
            f"{prefix}_recall": round(self.micro.recall, 4),
            f"{prefix}_f1": round(self.micro.f1, 4),
            f"{prefix}_f1_negatives": round(
                self.clean_negatives / self.negatives if self.negatives else 1.0, 4
            ),
            f"{prefix}_calibration_09": round(
                self.confident_right / self.confident if self.confident else 0.0, 4
            ),
            f"{prefix}_confident_09": float(self.confident),
            f"{prefix}_primary_accuracy": round(
                self.primary_right / self.positives if self.positives else 1.0, 4
            ),
        }
        for name in sorted(self.labels) if per_label else ():
            score = self.labels[name]
            out[f"{prefix}_{name}_precision"] = round(score.precision, 4)
            out[f"{prefix}_{name}_recall"] = round(score.recall, 4)
            out[f"{prefix}_{name}_f1"] = round(score.f1, 4)
        return out


def evaluate_events(
    items: list[dict[str, Any]], config: ExtractorConfig | None = None
) -> dict[str, EventScores]:
    """Event scores through the whole pipeline, for all items ("all") and per split ("dev",
    "heldout"), in one pass."""
    config = config or ExtractorConfig()
    scores: dict[str, EventScores] = defaultdict(EventScores)
    for n, item in enumerate(items):
        raw = RawArticle(
            article_id=f"events-{n:04d}",
            source=SourceInfo(name="labelled"),
            text=item["text"],
            ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        reports = extract(raw, DedupState(), config)
        best: dict[str, float] = {}
        for report in reports:
            for label in report.events:
                best[label.type.value] = max(best.get(label.type.value, 0.0), label.confidence)
        primary = next((r.events[0].type.value for r in reports if r.events), None)
        for split in ("all", str(item.get("split") or "dev")):
            scores[split].add(item, sorted(best.items()), primary)
    return dict(scores)


def evaluate_languages(items: list[dict[str, Any]]) -> dict[str, float]:
    """Language identification on sentences in and outside the configured set:
    `language_accuracy` (exact answer, `und` expected for scripts no lingua language covers),
    `language_outside_honest` (share of texts outside the configured set reported as
    themselves or `und`, never as a configured language), `language_configured_accuracy`."""
    from services.extractor.language import LANGUAGES, detect

    right = inside = inside_right = outside = honest = 0
    for item in items:
        expected = str(item["language"])
        got = detect(str(item["text"])).language
        right += got == expected
        if expected in LANGUAGES:
            inside += 1
            inside_right += got == expected
        else:
            outside += 1
            honest += got == expected or got == "und"
    return {
        "language_accuracy": round(right / len(items), 4) if items else 1.0,
        "language_configured_accuracy": round(inside_right / inside, 4) if inside else 1.0,
        "language_outside_honest": round(honest / outside, 4) if outside else 1.0,
    }


def evaluate_entity_negatives(items: list[dict[str, Any]]) -> tuple[dict[str, float], list[str]]:
    """Texts full of look-alikes (Susanna, Shukshin, Karen Mirzoyan): the share that yields no
    entity beyond the ones it does name (`entities_negatives_clean`), and the misses."""
    from services.extractor.entities import find_entities
    from services.extractor.gazetteer import default_gazetteer

    gaz = default_gazetteer()
    misses = []
    for item in items:
        found = {m.id for m in find_entities(str(item["text"]), gaz)}
        extra = found - set(item.get("entities") or [])
        if extra:
            misses.append(f"{item['text'][:60]}: {sorted(extra)}")
    clean = 1 - len(misses) / len(items) if items else 1.0
    return {"entities_negatives_clean": round(clean, 4)}, misses


def load_floors(path: Path = FLOORS) -> dict[str, float]:
    """{metric: floor} of the accuracy gate beyond the labelled and events sets."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): float(v) for k, v in data.items()}


def load_event_floors(path: Path = EVENT_FLOORS) -> dict[str, dict[str, float]]:
    """{split ("all", "heldout", ...): {metric: floor}}."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): {str(m): float(v) for m, v in (d or {}).items()} for k, d in data.items()}


def summary(scores: dict[str, Score]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, score in scores.items():
        out[f"{name}_precision"] = round(score.precision, 4)
        out[f"{name}_recall"] = round(score.recall, 4)
        out[f"{name}_f1"] = round(score.f1, 4)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--events"]:
        return _main_events(args[1] if len(args) > 1 else None)
    path = Path(args[0]) if args else DEFAULT_SET
    scores = evaluate(load_labelled(path))
    print(f"{'field':10s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
    for name, score in scores.items():
        print(f"{name:10s} {score.precision:9.3f} {score.recall:7.3f} {score.f1:6.3f}")
    for name, score in scores.items():
        for miss in score.misses:
            print(f"  {name}: {miss}")
    return 0


def _main_events(split: str | None) -> int:
    scores = evaluate_events(load_labelled(EVENTS_SET))[split or "all"]
    print(f"{'label':20s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
    for name in sorted(scores.labels):
        s = scores.labels[name]
        print(f"{name:20s} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f}")
    for key, value in scores.summary(per_label=False).items():
        print(f"{key} {value}")
    for miss in scores.micro.misses:
        print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
