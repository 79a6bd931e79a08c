"""Extractor benchmark (one worker's CPU, no Kafka): throughput and article-body F1.

* `trafilatura_html_per_s` / `trafilatura_f1`: plain `trafilatura.extract(html)` (defaults) on
  the 181 real pages of ../shared/data/extraction-benchmark, scored against ground-truth.json.
* `baseline_extract_html_per_s` / `baseline_extract_f1`: the same two trafilatura figures, as the
  baseline of ours (`ratio_extract_*`).
* `baseline_newsplease_extract_html_per_s` / `..._f1`: news-please's `from_html` on the same
  pages, in its own virtual environment (benchmarks/newsplease_baseline.py), where it installs;
  pages it raises on (`newsplease_failed_pages`) score 0.
* `extract_f1`: our clean step (trafilatura fast mode without comments, the truncation guard,
  the chrome rules, headline and byline out: the pipeline's own `clean`) on the same pages,
  scored the same way, in the same run.
* `extract_f1_own` / `trafilatura_f1_own`: ours and plain trafilatura's (defaults) on the second
  evaluation set (devtools/own_pages.py: 162 pages, hand-written articles in nine
  languages in six generated site templates), `extract_f1_own_<lang>` per language. The
  benchmark folder is ../shared/data, or $CWATCH_SHARED_DATA when set.
* `extract_html_per_s`: the whole pipeline (clean, language, entities, events, figures,
  relevance, dedup) on those pages as raw articles with a feed date (as the ingestor sends
  them), reports per second; `extract_html_nometa_per_s` without a feed date (metadata pass).
* `extract_text_per_s`: the whole pipeline on plain-text reports (the real seeds and the
  multilingual fixtures, each made unique so that no exact-duplicate shortcut is taken).
* `extract_rss_mb`: peak resident memory of this process (models, gazetteer, state).
* `eval_*`: precision / recall / F1 of the accuracy harness on the labelled set; `eval_events_*`
  are the event tagger's on its own set (tests/extractor/fixtures/events_labelled.yaml):
  micro precision / recall / F1, `_f1_negatives` (share of negatives left without a label),
  `_calibration_09` (share of labels at confidence >= 0.9 that are right), per label
  (`eval_events_<type>_precision`, ...), and `eval_events_heldout_*` / `eval_events_fresh_*` on
  its held-out part and on the part written after the rules were frozen.
  The events of the small labelled set are `eval_labelled_events_*`.
Rates are medians over rounds. Article-body F1 is the bag-of-words F1 (lower-cased word tokens,
multiset overlap) averaged over pages. Nothing here asserts on time.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import newsplease_baseline  # noqa: E402
import trafilatura  # noqa: E402

from devtools.evaluation import (  # noqa: E402
    EVENTS_SET,
    body_f1,
    evaluate,
    evaluate_events,
    load_labelled,
    summary,
)
from devtools.own_pages import build_pages, own_pages_f1  # noqa: E402
from schemas.common import SourceInfo, SourceKind  # noqa: E402
from schemas.raw import RawArticle  # noqa: E402
from services.extractor.clean import html_body  # noqa: E402
from services.extractor.dedup import DedupState  # noqa: E402
from services.extractor.language import preload  # noqa: E402
from services.extractor.pipeline import ExtractorConfig, extract  # noqa: E402

SHARED = Path(os.environ.get("CWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
BENCH = SHARED / "extraction-benchmark"
FIXTURES = REPO / "tests" / "extractor" / "fixtures"


def load_pages() -> list[tuple[str, str, str]]:
    """(id, html, gold article body) of the benchmark pages."""
    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        path = BENCH / "html" / f"{page_id}.html.gz"
        if path.exists():
            html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
            pages.append((page_id, html, item["articleBody"]))
    return pages


def load_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED / "seeds").glob("*.txt"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    return texts


def _raw(
    n: int, html: str | None = None, text: str | None = None, dated: bool = True
) -> RawArticle:
    return RawArticle(
        article_id=f"bench-{n:08d}",
        source=SourceInfo(name="bench", kind=SourceKind.FEED),
        html=html,
        text=text,
        published=datetime(2026, 1, 1, tzinfo=UTC) if dated else None,
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def run(quick: bool = False) -> dict[str, float]:
    rounds = 1 if quick else 3
    config = ExtractorConfig()
    preload()
    figures: dict[str, float] = {}

    pages = load_pages() if BENCH.is_dir() else []
    if pages:
        if quick:
            pages = pages[:60]
        traf_rates, our_rates, nometa_rates = [], [], []
        traf_f1: list[float] = []
        our_f1: list[float] = []
        for r in range(rounds):
            started = time.perf_counter()
            outputs = [trafilatura.extract(html) for _, html, _ in pages]
            traf_rates.append(_rate(len(pages), time.perf_counter() - started))
            if r == 0:
                traf_f1 = [body_f1(o, gold) for o, (_, _, gold) in zip(outputs, pages, strict=True)]
                ours = [html_body(html) for _, html, _ in pages]
                our_f1 = [body_f1(o, gold) for o, (_, _, gold) in zip(ours, pages, strict=True)]
            raws = [_raw(i, html=html) for i, (_, html, _) in enumerate(pages)]
            state = DedupState()
            started = time.perf_counter()
            produced = sum(len(extract(raw, state, config)) for raw in raws)
            our_rates.append(_rate(produced, time.perf_counter() - started))
            if r == 0:
                raws = [_raw(i, html=html, dated=False) for i, (_, html, _) in enumerate(pages)]
                state = DedupState()
                started = time.perf_counter()
                produced = sum(len(extract(raw, state, config)) for raw in raws)
                nometa_rates.append(_rate(produced, time.perf_counter() - started))
        figures.update(
            {
                "trafilatura_html_per_s": round(statistics.median(traf_rates), 2),
                "trafilatura_f1": round(statistics.mean(traf_f1), 4),
                "extract_html_per_s": round(statistics.median(our_rates), 2),
                "extract_html_nometa_per_s": round(statistics.median(nometa_rates), 2),
                "extract_f1": round(statistics.mean(our_f1), 4),
                "html_pages": float(len(pages)),
            }
        )
        # Baselines under the keys of the figures they compare with (ratios follow from them).
        figures["baseline_extract_html_per_s"] = figures["trafilatura_html_per_s"]
        figures["baseline_extract_f1"] = figures["trafilatura_f1"]
        # The second baseline: one round, it is ~10x slower than trafilatura.
        other = newsplease_baseline.extract([html for _, html, _ in pages], rounds=1)
        if other is not None:
            scores = [body_f1(t, gold) for t, (_, _, gold) in zip(other.texts, pages, strict=True)]
            figures["baseline_newsplease_extract_html_per_s"] = round(other.pages_per_s, 2)
            figures["baseline_newsplease_extract_f1"] = round(statistics.mean(scores), 4)
            figures["newsplease_failed_pages"] = float(other.failed)

    # The second evaluation set: ours and plain trafilatura's, side by side.
    figures.update(own_pages_f1())
    own = build_pages()
    figures["trafilatura_f1_own"] = round(
        statistics.mean(body_f1(trafilatura.extract(p.html), p.body) for p in own), 4
    )
    figures["own_pages"] = float(len(own))

    texts = load_texts()
    count = 500 if quick else 3000
    text_rates = []
    for r in range(rounds):
        raws = [
            _raw(r * count + i, text=f"{texts[i % len(texts)]}\n\nBulletin {r}-{i}.")
            for i in range(count)
        ]
        state = DedupState()
        started = time.perf_counter()
        produced = sum(len(extract(raw, state, config)) for raw in raws)
        text_rates.append(_rate(produced, time.perf_counter() - started))
    figures["extract_text_per_s"] = round(statistics.median(text_rates), 2)

    labelled = FIXTURES / "labelled.yaml"
    if labelled.exists():
        for key, value in summary(evaluate(load_labelled(labelled))).items():
            figures[f"eval_labelled_{key}" if key.startswith("events_") else f"eval_{key}"] = value
    if EVENTS_SET.exists():
        event_scores = evaluate_events(load_labelled(EVENTS_SET))
        figures.update({f"eval_{k}": v for k, v in event_scores["all"].summary().items()})
        for split in ("heldout", "fresh"):
            part = event_scores[split].summary(f"events_{split}", per_label=False)
            figures.update({f"eval_{k}": v for k, v in part.items()})
    figures["extract_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
