"""Story and near-duplicate evaluation (issue 20): pairwise precision / recall / F1 of story
ids against true story labels, near-duplicate recall (and how often the copy is taken for the
original), and the share of articles grouped differently by two runs.

Pure: scores are computed from {article id: predicted story id} and the labels, whatever
produced them (the offline pipeline here, or reports read back from the real pipeline by
benchmarks/bench_stories.py). The own set is tests/extractor/fixtures/stories/own_stories.yaml
(hand-written events told by several outlets in several languages and from several sides,
look-alike events, re-publications); the generated corpus's labels come from
services.demo (`cwatch demo generate` carries them).

    python -m devtools.story_eval            # own set, one offline run
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from schemas.common import Affiliation, SourceInfo
from schemas.raw import RawArticle
from services.demo.generator import CorpusGenerator

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "extractor" / "fixtures" / "stories"
OWN_SET = FIXTURES / "own_stories.yaml"
STORY_FLOORS = FIXTURES / "story_floors.yaml"

_AFFILIATION = {
    "am": Affiliation.STATE,
    "az": Affiliation.STATE,
    "ru": Affiliation.STATE,
    "tr": Affiliation.STATE,
    "intl": Affiliation.INTERNATIONAL,
}
# "YEREVAN, April 1 (Armenpress) - ", "ЕРЕВАН, 1 апреля. /ТАСС/. ", "Bakı, 1 aprel, AZERTAC. ",
# "БАКУ, 5 апреля. /APA/. ": the agency line a re-publication moves to the end.
_AGENCY_LINE = re.compile(r"^([^\n]{0,60}?(?:\([^)\n]{2,30}\) - |/[^/\n]{2,20}/\. |AZERTAC\. ))")


@dataclass(frozen=True)
class LabelledArticle:
    """One article of a story set and its truth."""

    raw: RawArticle
    story: str  # the true story (event) id
    near_duplicate_of: str | None = None  # article id of the original, for re-publications
    lookalike_of: str | None = None  # a different event of the same type, day and district


def story_set(count: int, seed: int) -> list[LabelledArticle]:
    """A generated corpus as the story evaluation's labelled articles (publication order).
    Irrelevant articles belong to no story: each is its own, or its first telling's when it
    repeats a filler text word for word."""
    articles = list(CorpusGenerator(seed).articles(count))
    out = [
        LabelledArticle(
            RawArticle(
                article_id=a.article_id,
                url=a.url,
                source=a.source,
                title=a.title,
                text=a.text,
                published=a.published,
                ingested_at=a.published,
            ),
            # a filler told again word for word is one with its first telling (a re-run)
            a.story_id or f"alone-{a.rerun_of or a.article_id}",
            a.near_duplicate_of,
        )
        for a in articles
    ]
    out.sort(key=lambda x: (x.raw.published or x.raw.ingested_at, x.raw.article_id))
    return out


def _article_id(key: str) -> str:
    return "own-" + hashlib.sha1(key.encode()).hexdigest()[:20]


def _republish(body: str, edit: str, spec: Mapping[str, Any], outlet_name: str) -> str:
    if edit == "lead":
        return f"{spec['lead']}\n{body}"
    if edit == "agency":
        match = _AGENCY_LINE.match(body)
        if match:
            return f"{body[match.end() :]}\n({match.group(1).strip(' -./')})"
        return f"{body}\n({outlet_name})"
    return body


def load_own_set(path: Path = OWN_SET) -> list[LabelledArticle]:
    """The own story set as raw articles in publication order, with their labels."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    outlets: dict[str, dict[str, Any]] = data["outlets"]
    articles: list[LabelledArticle] = []

    def raw_of(key: str, outlet_key: str, at: datetime, headline: str, body: str) -> RawArticle:
        outlet = outlets[outlet_key]
        article_id = _article_id(key)
        return RawArticle(
            article_id=article_id,
            url=f"https://{outlet_key}.example/{at:%Y/%m/%d}/{article_id}",
            source=SourceInfo(
                name=str(outlet["name"]),
                country=str(outlet["country"]),
                language=str(outlet["lang"]),
                affiliation=_AFFILIATION[str(outlet["side"])],
            ),
            title=headline,
            text=body,
            published=at,
            ingested_at=at + timedelta(minutes=2),
        )

    for event in data["events"]:
        story = str(event["id"])
        lookalike = event.get("lookalike_of")
        originals: list[LabelledArticle] = []
        for n, version in enumerate(event["versions"]):
            at = _when(version["at"])
            raw = raw_of(
                f"{story}-{n}", version["outlet"], at, version["headline"], version["body"]
            )
            originals.append(LabelledArticle(raw, story, None, lookalike))
        articles.extend(originals)
        for n, copy in enumerate(event.get("copies") or []):
            original = originals[int(copy["of"])]
            source = event["versions"][int(copy["of"])]
            assert original.raw.published is not None
            at = original.raw.published + timedelta(minutes=int(copy.get("delay_min", 30)))
            headline = str(copy.get("headline") or source["headline"])
            body = _republish(
                str(source["body"]), str(copy["edit"]), copy, outlets[source["outlet"]]["name"]
            )
            raw = raw_of(f"{story}-copy-{n}", copy["outlet"], at, headline, body)
            articles.append(LabelledArticle(raw, story, original.raw.article_id, lookalike))
    articles.sort(key=lambda a: (a.raw.published or a.raw.ingested_at, a.raw.article_id))
    return articles


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


# -- scores -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairScore:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int


def _pairs(clusters: Mapping[str, str], among: Iterable[str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for article_id in sorted(among):
        if article_id in clusters:
            groups[clusters[article_id]].append(article_id)
    return {
        (a, b)
        for members in groups.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }


def pairwise(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairScore:
    """Pairwise P/R/F1 over the labelled articles: a pair is positive when both share a story.
    An article without a prediction is in no predicted pair (it counts against recall)."""
    true_pairs = _pairs(truth, truth)
    predicted_pairs = _pairs(predicted, truth)
    hits = len(true_pairs & predicted_pairs)
    precision = hits / len(predicted_pairs) if predicted_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScore(precision, recall, f1, len(true_pairs), len(predicted_pairs))


@dataclass(frozen=True)
class NearDupScore:
    pairs: int
    linked: int  # the copy points at its original, or the original at its copy
    inverted: int  # of those, the original is marked as the copy

    @property
    def recall(self) -> float:
        return self.linked / self.pairs if self.pairs else 1.0


def near_duplicates(links: Mapping[str, str | None], truth: Mapping[str, str]) -> NearDupScore:
    """`links`: article id -> the article id its report names as original (near or exact
    duplicate), `truth`: copy -> original."""
    linked = inverted = 0
    for copy, original in truth.items():
        if links.get(copy) == original:
            linked += 1
        elif links.get(original) == copy:
            linked += 1
            inverted += 1
    return NearDupScore(len(truth), linked, inverted)


def disagreement(first: Mapping[str, str], second: Mapping[str, str]) -> float:
    """Share of articles grouped differently by two runs: an article counts when the set of
    articles sharing its story differs between them (story ids themselves may differ)."""
    common = sorted(set(first) & set(second))

    def members(clusters: Mapping[str, str]) -> dict[str, frozenset[str]]:
        groups: dict[str, set[str]] = defaultdict(set)
        for article_id in common:
            groups[clusters[article_id]].add(article_id)
        return {a: frozenset(groups[clusters[a]]) for a in common}

    one, two = members(first), members(second)
    differ = sum(one[a] != two[a] for a in common) + len(set(first) ^ set(second))
    total = len(set(first) | set(second))
    return differ / total if total else 0.0


def story_figures(
    prefix: str,
    predicted: Mapping[str, str],
    links: Mapping[str, str | None],
    articles: list[LabelledArticle],
) -> dict[str, float]:
    """The flat figures of one run (the benchmark's and the gate's keys)."""
    truth = {a.raw.article_id: a.story for a in articles}
    dups = {a.raw.article_id: a.near_duplicate_of for a in articles if a.near_duplicate_of}
    score = pairwise(predicted, truth)
    nd = near_duplicates(links, dups)
    out = {
        f"{prefix}story_precision": round(score.precision, 4),
        f"{prefix}story_recall": round(score.recall, 4),
        f"{prefix}story_f1": round(score.f1, 4),
        f"{prefix}neardup_recall": round(nd.recall, 4),
        f"{prefix}neardup_inverted": float(nd.inverted),
        f"{prefix}stories_true": float(len(set(truth.values()))),
        f"{prefix}stories_predicted": float(len({predicted[a] for a in truth if a in predicted})),
    }
    lookalikes = _lookalike_merges(predicted, articles)
    if lookalikes is not None:
        out[f"{prefix}lookalikes_merged"] = float(lookalikes)
    return out


def _lookalike_merges(predicted: Mapping[str, str], articles: list[LabelledArticle]) -> int | None:
    """Look-alike events (same type, day, district) that share a predicted story id."""
    stories_of: dict[str, set[str]] = defaultdict(set)
    pairs = {tuple(sorted((a.story, a.lookalike_of))) for a in articles if a.lookalike_of}
    if not pairs:
        return None
    for a in articles:
        if a.raw.article_id in predicted:
            stories_of[a.story].add(predicted[a.raw.article_id])
    return sum(bool(stories_of[x] & stories_of[y]) for x, y in pairs)


def load_story_floors(path: Path = STORY_FLOORS, part: str = "own") -> dict[str, float]:
    """Floors of one part (`own`, `generated`); `max_<key>` ones are ceilings."""
    data = yaml.safe_load(path.read_text()) or {}
    return {str(k): float(v) for k, v in (data.get(part) or {}).items()}


def below_floors(figures: dict[str, float], floors: dict[str, float]) -> list[str]:
    failures = []
    for key, bound in floors.items():
        if key.startswith("max_"):
            if figures[key[4:]] > bound:
                failures.append(f"{key[4:]}={figures[key[4:]]} > {bound}")
        elif figures[key] < bound:
            failures.append(f"{key}={figures[key]} < {bound}")
    return failures


# -- offline runs -----------------------------------------------------------------------------


def run_offline(
    raws: list[RawArticle], workers: int = 1
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Extract every article in order (the offline pipeline, one shared story state) and return
    {article id: story id} and {article id: original it names}. `workers` > 1 interleaves the
    articles as that many workers reading raw partitions in turn would deliver them to the one
    story stage, so order effects show."""
    from services.extractor.dedup import DedupState
    from services.extractor.pipeline import ExtractorConfig, analyse, finish

    config = ExtractorConfig()
    drafts = [(raw, analyse(raw, config)) for raw in raws]
    if workers > 1:
        drafts = _interleave(drafts, workers)
    state = DedupState()
    stories: dict[str, str] = {}
    links: dict[str, str | None] = {}
    for _raw, article_drafts in drafts:
        for report in finish(article_drafts, state):
            # a later report of the same id is a correction (a copy whose original came later)
            stories[report.report_id] = report.story_id
            links[report.report_id] = report.near_duplicate_of or report.duplicate_of
    # A report's story may later be merged into another: follow the merges.
    return {a: state.resolve_story(s) for a, s in stories.items()}, links


def _interleave(items: list[Any], workers: int) -> list[Any]:
    lanes: list[list[Any]] = [[] for _ in range(workers)]
    for raw_and_drafts in items:
        raw = raw_and_drafts[0]
        lanes[int(hashlib.sha1(raw.article_id.encode()).hexdigest(), 16) % workers].append(
            raw_and_drafts
        )
    out: list[Any] = []
    chunk = 7  # a fetch's worth of records per partition, read in turn
    for start in range(0, max(len(lane) for lane in lanes), chunk):
        for lane in lanes:
            out.extend(lane[start : start + chunk])
    return out


def evaluate_own(workers: int = 1, path: Path = OWN_SET) -> dict[str, float]:
    articles = load_own_set(path)
    predicted, links = run_offline([a.raw for a in articles], workers)
    return story_figures("", predicted, links, articles)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else OWN_SET
    figures = evaluate_own(1, path)
    for key, value in figures.items():
        print(f"{key:28} {value:8.3f}")
    failures = below_floors(figures, load_story_floors()) if path == OWN_SET else []
    for failure in failures:
        print(f"BELOW FLOOR: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
