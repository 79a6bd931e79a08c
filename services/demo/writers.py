"""Write a generated corpus to disk in the formats the ingestor reads.

Layout of `out_dir` (the ingestor's file adapter names a file's source after its folder):
  html/<outlet>/<article_id>.html   full pages with site chrome
  txt/<outlet>/<article_id>.txt     first non-empty line is the headline
  jsonl/corpus.jsonl                url, title, text or html, published, source, language, ...
  feeds/<outlet>-NNN.xml|.atom      RSS 2.0 (content:encoded) or Atom, FEED_PAGE items each
  manifest.json                     ground truth per article (not an input format: .json)
  README.md                         says the corpus is generated
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.demo.catalog import load_catalog
from services.demo.generator import (
    DEFAULT_START,
    CorpusGenerator,
    GeneratedArticle,
    start_for_latest,
)
from services.demo.pages import render_atom, render_html, render_rss, render_txt

FORMATS = ("html", "txt", "jsonl", "rss")
FEED_PAGE = 100
HTML_IN_JSONL_EVERY = 5  # every 5th jsonl line carries html instead of text

Progress = Callable[[int, int], None]


@dataclass
class CorpusSummary:
    out_dir: Path
    seed: int
    articles: int = 0
    stories: int = 0
    relevant: int = 0
    near_duplicates: int = 0
    files: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    outlets: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self, timing: bool = True) -> dict[str, Any]:
        info = {
            "out_dir": str(self.out_dir),
            "seed": self.seed,
            "articles": self.articles,
            "stories": self.stories,
            "relevant": self.relevant,
            "irrelevant": self.articles - self.relevant,
            "near_duplicates": self.near_duplicates,
            "files": dict(sorted(self.files.items())),
            "languages": dict(self.languages.most_common()),
            "outlets": len(self.outlets),
        }
        if timing:
            info["seconds"] = round(self.seconds, 3)
        return info


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    chosen = tuple(dict.fromkeys(i.strip().lower() for i in items if i.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown formats {unknown}; choose from {', '.join(FORMATS)}")
    return chosen


@lru_cache(maxsize=256)
def _source_dict(outlet_key: str) -> dict[str, Any]:
    outlet = next(o for o in load_catalog().outlets if o.key == outlet_key)
    return outlet.source_info().model_dump(mode="json", exclude_none=True)


def jsonl_record(
    article: GeneratedArticle, with_html: bool = False, page: str | None = None
) -> dict[str, Any]:
    """One line of corpus.jsonl, restricted to the fields the ingestor's file adapter knows."""
    record: dict[str, Any] = {
        "url": article.url,
        "title": article.title,
        "published": article.published.isoformat(),
        "source": _source_dict(article.outlet.key),
        "language": article.language,
        "authors": [article.author],
        "categories": ["generated demo", article.category],
    }
    if with_html:
        record["html"] = page or render_html(article, load_catalog().languages[article.language])
    else:
        record["text"] = article.text
    return record


def _feed_kind(outlet_key: str) -> str:
    return "atom" if zlib.crc32(outlet_key.encode()) % 3 == 0 else "rss"


def write_corpus(
    out_dir: str | Path,
    count: int,
    seed: int = 7,
    formats: Sequence[str] = FORMATS,
    progress: Progress | None = None,
    latest: datetime | None = None,
) -> CorpusSummary:
    """Generate `count` articles with `seed` and write them in `formats` under `out_dir`.

    `latest`: move the corpus in time so its newest article is published then (a demo wants
    recent news); by default it starts on DEFAULT_START, so files are identical run to run.
    """
    chosen = parse_formats(formats)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    languages = load_catalog().languages
    start = DEFAULT_START if latest is None else start_for_latest(count, seed, latest)
    generator = CorpusGenerator(seed, start)
    summary = CorpusSummary(out_dir=root, seed=seed)
    by_outlet: dict[str, list[GeneratedArticle]] = defaultdict(list)
    made_dirs: set[str] = set()
    truth: list[dict[str, Any]] = []
    jsonl = None
    if "jsonl" in chosen:
        (root / "jsonl").mkdir(exist_ok=True)
        jsonl = (root / "jsonl" / "corpus.jsonl").open("w", encoding="utf-8")
        summary.files["jsonl"] += 1

    def folder(kind: str, outlet: str) -> str:
        # Plain strings and open(): pathlib's per-call overhead shows at 10,000 files.
        path = os.path.join(root, kind, outlet)
        if path not in made_dirs:
            os.makedirs(path, exist_ok=True)
            made_dirs.add(path)
        return path

    def write(path: str, text: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    try:
        for n, article in enumerate(generator.articles(count), start=1):
            key = article.outlet.key
            page = None
            if "html" in chosen:
                page = render_html(article, languages[article.language])
                write(os.path.join(folder("html", key), f"{article.article_id}.html"), page)
                summary.files["html"] += 1
            if "txt" in chosen:
                txt = render_txt(article)
                write(os.path.join(folder("txt", key), f"{article.article_id}.txt"), txt)
                summary.files["txt"] += 1
            if jsonl is not None:
                record = jsonl_record(article, with_html=n % HTML_IN_JSONL_EVERY == 0, page=page)
                jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
            if "rss" in chosen:
                by_outlet[key].append(article)
            truth.append(article.truth())
            summary.articles += 1
            summary.relevant += article.relevant
            summary.near_duplicates += article.near_duplicate_of is not None
            summary.languages[article.language] += 1
            summary.outlets[key] += 1
            if progress is not None and (n % 1000 == 0 or n == count):
                progress(n, count)
    finally:
        if jsonl is not None:
            jsonl.close()
    if "rss" in chosen:
        summary.files["rss"] += _write_feeds(root / "feeds", by_outlet)
    summary.stories = generator.story_count
    summary.seconds = time.perf_counter() - started
    _write_manifest(root, summary, chosen, truth)
    return summary


def _write_feeds(folder: Path, by_outlet: dict[str, list[GeneratedArticle]]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for key in sorted(by_outlet):
        articles = sorted(by_outlet[key], key=lambda a: a.published, reverse=True)
        kind = _feed_kind(key)
        for page, start in enumerate(range(0, len(articles), FEED_PAGE), start=1):
            chunk = articles[start : start + FEED_PAGE]
            if kind == "atom":
                text, suffix = render_atom(chunk, page), "atom"
            else:
                text, suffix = render_rss(chunk, page), "xml"
            (folder / f"{key}-{page:03d}.{suffix}").write_text(text, encoding="utf-8")
            written += 1
    return written


def _write_manifest(
    root: Path, summary: CorpusSummary, formats: Sequence[str], truth: list[dict[str, Any]]
) -> None:
    head = {
        "generator": "caucasus-watch demo generator",
        "generated": True,
        "note": "Generated demo corpus: no article reports real events.",
        "formats": list(formats),
        # Same seed, same bytes: nothing that depends on where or how fast it ran.
        "summary": {k: v for k, v in summary.as_dict(timing=False).items() if k != "out_dir"},
    }
    # One article a line, without indent: json's C encoder, and still readable with grep.
    lines = ",\n".join(json.dumps(a, ensure_ascii=False) for a in truth)
    opening = json.dumps(head, ensure_ascii=False)[:-1]
    (root / "manifest.json").write_text(
        f'{opening}, "articles": [\n{lines}\n]}}\n', encoding="utf-8"
    )
    (root / "README.md").write_text(
        "# Generated demo corpus\n\n"
        "[generated demo] Every article in this folder was generated by `cwatch demo generate` "
        f"(seed {summary.seed}) for demonstration and testing. None of it reports real events; "
        "the outlets are invented and live on reserved `.example` domains.\n"
        "`manifest.json` holds the ground truth (story, event type, entities, figures) of each "
        "article.\n",
        encoding="utf-8",
    )


def html_pages(count: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """(url, full page HTML) of generated articles, in memory: for benchmarks that feed pages
    straight to a stage without a folder on disk."""
    languages = load_catalog().languages
    for article in CorpusGenerator(seed, DEFAULT_START).articles(count):
        yield article.url, render_html(article, languages[article.language])


def read_manifest(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Ground truth of a written corpus by article URL (to score extraction or clustering)."""
    data = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    return {a["url"]: a for a in data["articles"]}
