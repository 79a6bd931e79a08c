"""The demo corpus generator: deterministic, labelled, multilingual, realistic in the ways the
pipeline cares about (spelling variants, several sides per story, duplicates, noise)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from schemas.report import EventType
from services.demo.catalog import load_catalog
from services.demo.generator import (
    DEFAULT_START,
    DISTINCT_WINDOW,
    GENERATED_NOTE,
    CorpusGenerator,
    GeneratedArticle,
    Story,
    generate,
)


@pytest.fixture(scope="module")
def corpus() -> list[GeneratedArticle]:
    return generate(2500, seed=11)


def _all_text(articles: list[GeneratedArticle]) -> str:
    return "\n".join(a.title + "\n" + a.text for a in articles)


def test_same_seed_gives_the_same_articles() -> None:
    first = [(a.article_id, a.url, a.title, a.text, a.published) for a in generate(300, seed=5)]
    second = [(a.article_id, a.url, a.title, a.text, a.published) for a in generate(300, seed=5)]
    assert first == second


def test_different_seeds_give_different_articles() -> None:
    assert [a.text for a in generate(50, seed=1)] != [a.text for a in generate(50, seed=2)]


def test_count_is_exact_even_when_a_story_is_cut_short() -> None:
    for count in (1, 2, 7, 31):
        assert len(generate(count, seed=3)) == count


def test_every_article_is_labelled_as_generated(corpus: list[GeneratedArticle]) -> None:
    for article in corpus:
        assert article.generated is True
        assert article.paragraphs[-1].startswith(GENERATED_NOTE)
        assert article.truth()["generated"] is True


def test_main_languages_and_a_few_others_are_present(corpus: list[GeneratedArticle]) -> None:
    languages = defaultdict(int)
    for article in corpus:
        languages[article.language] += 1
    for lang in ("en", "ru", "hy", "az", "tr"):
        assert languages[lang] >= 100, lang
    for lang in ("ka", "fr", "id"):
        assert 0 < languages[lang] < languages["en"], lang


def test_spelling_variants_across_scripts_are_present(corpus: list[GeneratedArticle]) -> None:
    text = _all_text(corpus)
    groups = {
        "Pashinyan": ["Pashinyan", "Пашинян", "Փաշինյան", "Paşinyan"],
        "Aliyev": ["Aliyev", "Əliyev", "Алиев"],
        "CSTO": ["CSTO", "ОДКБ", "ՀԱՊԿ"],
        "Stepanakert": ["Stepanakert", "Khankendi", "Xankəndi", "Степанакерт", "Ստեփանակերտ"],
        "Shusha": ["Shushi", "Shusha", "Şuşa"],
        "Lachin": ["Berdzor", "Lachin", "Laçın"],
        "Karabakh": ["Nagorno-Karabakh", "Artsakh", "Dağlık Karabağ", "Нагорный Карабах"],
        "places": ["Syunik", "Zangezur", "Tavush", "Gazakh", "Yerevan", "Baku"],
        "orgs": ["EUMA", "OSCE", "ICJ"],
    }
    for name, variants in groups.items():
        missing = [v for v in variants if v not in text]
        assert not missing, f"{name}: {missing}"


def test_contested_places_use_each_sides_naming(corpus: list[GeneratedArticle]) -> None:
    # Re-published wire copy keeps the original outlet's words, so only own reporting counts.
    own = [a for a in corpus if a.language == "en" and not a.near_duplicate_of]
    az_side = _all_text([a for a in own if a.outlet.side == "az"])
    am_side = _all_text([a for a in own if a.outlet.side == "am"])
    assert "Khankendi" in az_side and "Khankendi" not in am_side
    assert "Stepanakert" in am_side


def test_stories_are_told_by_several_sides_within_hours(corpus: list[GeneratedArticle]) -> None:
    stories: dict[str, list[GeneratedArticle]] = defaultdict(list)
    for article in corpus:
        if article.story_id:
            stories[article.story_id].append(article)
    multi_side = [s for s in stories.values() if len({a.outlet.side for a in s}) >= 2]
    assert len(multi_side) >= len(stories) // 3
    for articles in multi_side:
        times = sorted(a.published for a in articles)
        assert (times[-1] - times[0]).total_seconds() <= 8 * 3600
        assert len({a.event_type for a in articles}) == 1


def test_near_duplicates_copy_an_earlier_article_of_another_outlet(
    corpus: list[GeneratedArticle],
) -> None:
    by_id = {a.article_id: a for a in corpus}
    copies = [a for a in corpus if a.near_duplicate_of]
    assert len(copies) >= len(corpus) // 20
    for copy in copies:
        original = by_id[copy.near_duplicate_of or ""]
        assert copy.outlet.key != original.outlet.key
        assert copy.language == original.language
        assert copy.story_id == original.story_id
        assert copy.published > original.published
        assert copy.paragraphs[0].startswith(original.paragraphs[0])
        assert set(copy.paragraphs[1:]) <= set(original.paragraphs[1:])


def test_irrelevant_reports_are_mixed_in(corpus: list[GeneratedArticle]) -> None:
    irrelevant = [a for a in corpus if not a.relevant]
    assert 0.02 * len(corpus) < len(irrelevant) < 0.15 * len(corpus)
    assert {a.category for a in irrelevant} >= {"sports", "weather", "other_conflict"}
    assert all(a.story_id is None and a.event_type is None for a in irrelevant)


def test_every_event_type_occurs(corpus: list[GeneratedArticle]) -> None:
    assert {a.event_type for a in corpus if a.event_type} == set(EventType)


def test_figures_are_stated_in_the_text_with_their_claimant(
    corpus: list[GeneratedArticle],
) -> None:
    with_figures = [a for a in corpus if a.figures]
    assert len(with_figures) >= len(corpus) // 10
    kinds = set()
    for article in with_figures:
        for figure in article.figures:
            kinds.add(figure.kind.value)
            assert figure.text in article.text
            assert figure.sentence in article.text or figure.sentence in article.paragraphs[0]
            assert figure.claimant
    assert {"killed", "wounded", "displaced"} <= kinds
    english = [f for a in with_figures if a.language == "en" for f in a.figures]
    assert any(f.text == "dozens of" and f.approximate for f in english)
    assert any(f.text.startswith("more than ") and f.value >= 1000 for f in english)
    assert any(f.text in ("one", "two", "three", "four", "five") for f in english)


def test_entities_recorded_for_an_article_are_known_ids(corpus: list[GeneratedArticle]) -> None:
    known = set(load_catalog().entities)
    for article in corpus:
        assert set(article.entity_ids) <= known
    assert sum(1 for a in corpus if a.entity_ids) > 0.9 * len(corpus)


def test_urls_are_on_reserved_example_domains(corpus: list[GeneratedArticle]) -> None:
    for article in corpus:
        host = article.url.split("/")[2]
        assert host.endswith(".example"), article.url
        assert article.source.url and article.source.url.startswith(f"https://{host}/")
    assert len({a.url for a in corpus}) == len(corpus)


def test_sources_carry_country_language_and_affiliation(corpus: list[GeneratedArticle]) -> None:
    affiliations = {a.source.affiliation.value for a in corpus}
    assert {"state", "independent", "international", "wire"} <= affiliations
    countries = {a.source.country for a in corpus}
    assert {"AM", "AZ", "RU", "TR"} <= countries
    assert all(a.source.language == a.language for a in corpus)


def test_recorded_entities_are_spelled_out_in_the_article(corpus: list[GeneratedArticle]) -> None:
    catalog = load_catalog()
    for article in corpus:
        # A sentence may open with a spelling ("the EU Mission" -> "The EU Mission").
        text = (article.title + "\n" + article.text).lower()
        for entity_id in article.entity_ids:
            entity = catalog.entities[entity_id]
            spellings = entity.spellings(article.language, False) + entity.spellings(
                article.language, True
            )
            assert any(s.lower() in text for s in spellings), (article.article_id, entity_id)


def test_bylines_are_invented_reporters_or_staff(corpus: list[GeneratedArticle]) -> None:
    bylines = {a.author for a in corpus}
    assert any(b.endswith(" staff") for b in bylines)
    assert len(bylines) > 10


def _story(event: EventType, scenario: set[str], subject: set[str]) -> Story:
    return Story(
        story_id="s",
        event=event,
        at=DEFAULT_START,
        cast={},
        claim_side="am",
        figure=None,
        scenario=frozenset(scenario),
        subject=frozenset(subject),
    )


def test_every_outlet_of_a_story_tells_the_same_event() -> None:
    """Issue 20: one outlet's "Putin meets Pashinyan in Moscow" and another's "Aliyev phones
    Erdogan" were one story; a template fits a story only if it names the story's roles."""
    gen = CorpusGenerator(1)
    talks = _story(EventType.DIPLOMATIC, {"ru_person", "am_speaker", "venue"}, {"ru_person"})
    assert gen._tells("{am_speaker}ը հանդիպել է {ru_person}ի հետ", talks)
    assert not gen._tells("{az_leader} {tr_person} ilə telefonla danışıb", talks)
    call = _story(EventType.RECOGNITION, {"eu_person"}, {"eu_person"})
    assert not gen._tells("Parliament votes to recognise Armenian genocide", call)
    clash = _story(EventType.ARMED_CLASH, {"border_place"}, {"border_place"})
    assert gen._tells("Clashes on the Armenian-Azerbaijani border", clash)


def test_no_two_stories_alike_start_within_a_day() -> None:
    """Stories of one kind with the same people and places, hours apart, are told in the same
    words: no reader could tell their reports apart, so the generator does not make them."""
    gen = CorpusGenerator(123)
    started: list[Story] = []
    draw = gen._new_story

    def spy() -> Story:
        started.append(draw())
        return started[-1]

    gen._new_story = spy  # type: ignore[method-assign]
    list(gen.articles(1500))
    clashes = 0
    for i, story in enumerate(started):
        for other in started[i + 1 :]:
            if other.at - story.at >= DISTINCT_WINDOW:
                break
            clashes += story.key() == other.key()
    assert clashes <= len(started) // 50  # only when every cast was taken (rare)


def test_a_filler_told_again_is_its_first_telling_word_for_word(
    corpus: list[GeneratedArticle],
) -> None:
    by_id = {a.article_id: a for a in corpus}
    reruns = [a for a in corpus if a.rerun_of]
    assert reruns
    for rerun in reruns:
        first = by_id[rerun.rerun_of]
        assert (rerun.title, rerun.text) == (first.title, first.text)
