"""Outlet names in a headline's tag or a paragraph's closing credit are not the report's
entities: a re-published copy names no place its original does not, and stays its copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.extractor.credits import strip_credits, strip_outlet_tag
from services.extractor.dedup import DedupState
from services.extractor.pipeline import analyse, finish

BODY = (
    "SISIAN — Azerbaijani forces shelled positions near the village of Sotk on Tuesday night, "
    "the Armenian defence ministry said. Two soldiers were wounded.\n\n"
    "The ministry said the fire came from positions across the border in the early hours and "
    "lasted for about forty minutes before it stopped.\n\n"
    "Baku denied the claim and accused Armenian units of provoking the exchange of fire "
    "near the border, calling the statement disinformation."
)
AT = datetime(2026, 3, 3, 8, tzinfo=UTC)


def _raw(article_id: str, outlet: str, title: str, text: str, at: datetime) -> RawArticle:
    return RawArticle(
        article_id=article_id,
        source=SourceInfo(name=outlet),
        title=title,
        text=text,
        published=at,
        ingested_at=at,
    )


def _credited(body: str, credit: str) -> str:
    first, rest = body.split("\n\n", 1)
    return f"{first} ({credit})\n\n{rest}"


def test_the_outlet_name_closing_a_headline_is_left_out() -> None:
    assert strip_outlet_tag("Shelling near Sotk — Yerevan Today", "Yerevan Today") == (
        "Shelling near Sotk"
    )
    assert strip_outlet_tag("Shelling near Sotk | YEREVAN TODAY", "Yerevan Today") == (
        "Shelling near Sotk"
    )
    # another outlet's name, or a headline that is only the name, stays
    assert strip_outlet_tag("Talks — Yerevan Today", "Baku Herald") == "Talks — Yerevan Today"
    assert strip_outlet_tag("Yerevan Today", "Yerevan Today") == "Yerevan Today"


def test_a_credit_after_the_last_sentence_is_left_out_and_prose_in_brackets_stays() -> None:
    assert strip_credits("Two were wounded. (Ararat Vestnik)\n\nMore.") == (
        "Two were wounded.\n\nMore."
    )
    assert strip_credits("Text.\n(YEREVAN, April 1 (Armenpress))") == "Text."
    assert strip_credits("Fire near Sotk (Syunik province).") == "Fire near Sotk (Syunik province)."


def test_outlet_names_are_not_entities_of_the_report() -> None:
    raw = _raw(
        "copy-0001",
        "Yerevan Today",
        "Shelling near Sotk — Yerevan Today",
        _credited(BODY, "Ararat Vestnik"),
        AT,
    )
    [draft] = analyse(raw)
    found = {m.id for m in draft.report.entities}
    assert "place:sotk" in found
    assert "place:yerevan" not in found
    assert "place:yerevan" not in draft.features.lead and "place:yerevan" not in found


def test_a_trimmed_copy_tagged_and_credited_with_outlet_names_is_a_near_duplicate() -> None:
    state = DedupState()
    original = _raw("orig-0001", "Ararat Vestnik", "Shelling near Sotk", BODY, AT)
    copy = _raw(
        "copy-0001",
        "Yerevan Today",
        "Shelling near Sotk — Yerevan Today",
        _credited(BODY.rsplit("\n\n", 1)[0], "Ararat Vestnik"),  # background trimmed
        AT + timedelta(minutes=30),
    )
    [first] = finish(analyse(original), state)
    [second] = finish(analyse(copy), state)
    assert second.near_duplicate_of == "orig-0001"
    assert second.story_id == first.story_id
