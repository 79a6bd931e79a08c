"""A .txt file reaches the extractor as title = first line, text = the rest (the ingestor's rule)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import RawArticle, SourceInfo
from services.extractor.clean import clean


def raw(title: str, text: str) -> RawArticle:
    return RawArticle(
        article_id="a" * 16,
        source=SourceInfo(name="file"),
        title=title,
        text=text,
        ingested_at=datetime.now(UTC),
    )


DIGEST = [
    "Perdana Menteri Armenia Nikol Pashinyan mengatakan bahwa negaranya akan keluar dari blok keamanan CSTO.",
    "Armenia telah secara resmi mengakui negara Palestina di tengah perang antara Israel dan Hamas.",
    "Presiden Azerbaijan Ilham Aliyev mengatakan siap untuk diskusi damai dengan Armenia di Brussel.",
    "Kementerian Pertahanan Azerbaijan mengatakan posisi tentara Armenia ditembaki di perbatasan.",
]


def test_a_digest_file_whose_first_line_became_the_title_is_still_split_into_items() -> None:
    docs = clean(raw(DIGEST[0], "\n".join(DIGEST[1:])))
    assert len(docs) == len(DIGEST)
    assert docs[0].body == DIGEST[0]


def test_a_chrome_line_taken_as_title_is_not_the_headline() -> None:
    docs = clean(
        raw(
            "Categories: World",
            "Azerbaijan proposes humanitarian truce to Armenia\n\nBaku said on Sunday it was ready.",
        )
    )
    assert docs[0].headline == "Azerbaijan proposes humanitarian truce to Armenia"


def test_a_real_headline_title_is_kept() -> None:
    docs = clean(
        raw("Ceasefire holds in Tavush", "Both sides reported a calm night along the border.")
    )
    assert docs[0].headline == "Ceasefire holds in Tavush"
