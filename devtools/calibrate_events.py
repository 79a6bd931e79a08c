"""Fit the event confidence table (data/events/_calibration.yaml) on the DEV part of the
events labelled set, so that a label's confidence is the share of such labels that were right.

Each label's evidence gives points (strong and weak keywords, the headline; see
`events._points`); for each number of points the confidence is the share of dev labels with
those points that were right (Laplace-smoothed, then made non-decreasing in the points by
pooling adjacent violators). The held-out part is never read here.

    python -m devtools.calibrate_events [--write]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from devtools.evaluation import EVENTS_SET, load_labelled
from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.common.fold import fold_words
from services.extractor.clean import clean
from services.extractor.events import (
    CALIBRATION_FILE,
    EVENTS_DIR,
    MAX_POINTS,
    _evidence,
    _points,
    load_rules,
)
from services.extractor.pipeline import text_layout

PUBLISHED = datetime(2026, 1, 1, tzinfo=UTC)


def dev_points() -> list[tuple[int, bool]]:
    """(points, right) of every label the tagger finds, before any threshold, on the dev part."""
    rules = load_rules()
    out = []
    for n, item in enumerate(load_labelled(EVENTS_SET)):
        if item.get("split") != "dev":
            continue
        raw = RawArticle(
            article_id=f"calibrate-{n:04d}",
            source=SourceInfo(name="labelled"),
            text=item["text"],
            ingested_at=PUBLISHED,
        )
        expected = set(item.get("events") or [])
        best: dict[str, int] = {}
        for doc in clean(raw):
            layout = text_layout(doc)
            found = _evidence(
                fold_words(layout.text),
                layout.sentence_spans,
                doc.headline,
                layout.headline_span,
                rules,
                PUBLISHED.date(),
            )
            for event_type, ev in found.items():
                best[event_type.value] = max(best.get(event_type.value, 0), _points(ev))
        out += [(points, name in expected) for name, points in best.items()]
    return out


def fit(samples: list[tuple[int, bool]]) -> dict[int, float]:
    """Smoothed share right per points, made non-decreasing (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [right, total, first points, last points]
    for points in range(MAX_POINTS + 1):
        rights = [right for p, right in samples if p == points]
        if rights:
            blocks.append([sum(rights) + 1.0, len(rights) + 2.0, points, points])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                right, total, _, last = blocks.pop()
                blocks[-1][0] += right
                blocks[-1][1] += total
                blocks[-1][3] = last
    table: dict[int, float] = {}
    for right, total, first, last in blocks:
        for points in range(int(first), int(last) + 1):
            table[points] = round(right / total, 2)
    return table


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    load_rules.cache_clear()  # fit on the data files as they are now
    samples = dev_points()
    table = fit(samples)
    for points in range(MAX_POINTS + 1):
        rights = [r for p, r in samples if p == points]
        print(
            f"points {points}: {len(rights):4d} labels, {sum(rights):4d} right -> {table.get(points)}"
        )
    if "--write" in args:
        body = ", ".join(f"{p}: {c}" for p, c in sorted(table.items()))
        (EVENTS_DIR / CALIBRATION_FILE).write_text(
            "# Written by `python -m devtools.calibrate_events --write` from the dev\n"
            "# part of tests/extractor/fixtures/events_labelled.yaml: points of evidence -> the\n"
            "# share of dev labels with those points that were right.\n"
            f"points: {{{body}}}\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
