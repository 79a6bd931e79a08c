from __future__ import annotations

from services.extractor.clean import clean, split_sentences
from services.extractor.entities import find_entities
from services.extractor.events import find_events
from services.extractor.gazetteer import Gazetteer
from services.extractor.relevance import is_relevant, relevance_score

from .conftest import fixture_text, make_raw

THRESHOLD = 0.5


def _score(text: str, gaz: Gazetteer) -> float:
    [doc] = clean(make_raw(text=text))[:1]
    full = f"{doc.headline}\n{doc.body}"
    return relevance_score(find_entities(full, gaz), find_events(split_sentences(full)), gaz)


def test_gaza_article_is_not_about_the_caucasus_conflict(gaz: Gazetteer) -> None:
    score = _score(fixture_text("en_unrelated.txt"), gaz)
    assert score < 0.1 and not is_relevant(score, THRESHOLD)


def test_related_posts_block_about_gaza_alone_is_irrelevant(gaz: Gazetteer) -> None:
    related = (
        "The UN says that he “will reduce the imprint to Gaza” in the middle of the renewed "
        "Israeli assault | Israeli-Palestine conflict"
    )
    assert not is_relevant(_score(related, gaz), THRESHOLD)


def test_every_conflict_fixture_and_seed_is_relevant(gaz: Gazetteer, seeds: dict[str, str]) -> None:
    texts = [
        fixture_text(n)
        for n in (
            "en_clash.txt",
            "ru_ceasefire.txt",
            "hy_displacement.txt",
            "az_exercise.txt",
            "tr_protest.txt",
            "el_talks.txt",
        )
    ]
    for text in texts + [seeds[k] for k in ("001", "002", "003", "004")]:
        assert is_relevant(_score(text, gaz), THRESHOLD), text[:60]


def test_a_passing_mention_of_russia_is_not_enough(gaz: Gazetteer) -> None:
    assert _score("Russia raised interest rates on Friday, the central bank said.", gaz) < 0.2
