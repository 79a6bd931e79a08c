"""Regression gate of story clustering and near-duplicates on the own story set and a generated
corpus, offline (one story state, as the story stage has), with floors in story_floors.yaml.
The same figures through the real pipeline with 1 and 3 workers: benchmarks/bench_stories.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devtools.story_eval import (
    STORY_FLOORS,
    LabelledArticle,
    below_floors,
    disagreement,
    load_own_set,
    load_story_floors,
    near_duplicates,
    pairwise,
    run_offline,
    story_figures,
    story_set,
)

FLOORS: dict[str, Any] = yaml.safe_load(STORY_FLOORS.read_text())


@pytest.fixture(scope="module")
def own() -> list[LabelledArticle]:
    return load_own_set()


def test_own_set_has_forty_events_in_five_languages_from_several_sides(
    own: list[LabelledArticle],
) -> None:
    stories: dict[str, list[LabelledArticle]] = {}
    for article in own:
        stories.setdefault(article.story, []).append(article)
    assert len(stories) >= 40
    assert {a.raw.source.language for a in own} >= {"en", "ru", "hy", "az", "tr"}
    for story, members in stories.items():
        originals = [a for a in members if not a.near_duplicate_of]
        assert 3 <= len(originals) <= 6, story
        assert len({a.raw.source.language for a in originals}) >= 2, story
        assert len({a.raw.source.country for a in originals}) >= 2, story
    assert sum(bool(a.lookalike_of) for a in own) >= 20
    assert sum(bool(a.near_duplicate_of) for a in own) >= 8


def test_republications_change_headline_lead_or_agency_line(own: list[LabelledArticle]) -> None:
    by_id = {a.raw.article_id: a.raw for a in own}
    copies = [(a.raw, by_id[a.near_duplicate_of]) for a in own if a.near_duplicate_of]
    assert any(c.title != o.title for c, o in copies)
    assert any(
        c.text and o.text and c.text.endswith(o.text) and c.text != o.text for c, o in copies
    )
    assert any(
        c.text and o.text and c.text[:20] != o.text[:20] and ")" in c.text[-30:] for c, o in copies
    )
    assert all(c.published and o.published and c.published > o.published for c, o in copies)


def test_own_set_scores_stay_above_their_floors(own: list[LabelledArticle]) -> None:
    predicted, links = run_offline([a.raw for a in own])
    figures = story_figures("", predicted, links, own)
    assert not below_floors(figures, load_story_floors(part="own")), figures


def test_generated_corpus_scores_stay_above_their_floors() -> None:
    articles = story_set(FLOORS["generated_count"], FLOORS["generated_seed"])
    predicted, links = run_offline([a.raw for a in articles])
    figures = story_figures("", predicted, links, articles)
    assert not below_floors(figures, load_story_floors(part="generated")), figures


def test_pairwise_counts_pairs_sharing_a_story() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2"}
    score = pairwise({"a": "x", "b": "x", "c": "y", "d": "y"}, truth)
    assert (score.true_pairs, score.predicted_pairs) == (3, 2)
    assert score.precision == 0.5 and score.recall == pytest.approx(1 / 3)


def test_near_duplicate_recall_counts_inverted_links_apart() -> None:
    score = near_duplicates(
        {"copy": None, "orig": "copy", "c2": "o2"}, {"copy": "orig", "c2": "o2"}
    )
    assert (score.linked, score.inverted, score.recall) == (2, 1, 1.0)


def test_disagreement_ignores_story_ids_and_counts_regrouped_articles() -> None:
    assert disagreement({"a": "1", "b": "1", "c": "2"}, {"a": "x", "b": "x", "c": "y"}) == 0
    assert disagreement({"a": "1", "b": "1", "c": "2"}, {"a": "x", "b": "y", "c": "y"}) == 1.0
