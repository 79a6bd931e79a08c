"""Local fixtures for the extractor tests (the session harness is tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.extractor.gazetteer import Gazetteer, default_gazetteer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def gaz() -> Gazetteer:
    return default_gazetteer()


@pytest.fixture(scope="session")
def seeds() -> dict[str, str]:
    """The five real seed reports by file-name prefix ('000' .. '004')."""
    folder = SHARED_DATA / "seeds"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def make_raw(
    article_id: str = "article-0001",
    text: str | None = None,
    html: str | None = None,
    title: str | None = None,
    published: datetime | None = None,
) -> RawArticle:
    return RawArticle(
        article_id=article_id,
        source=SourceInfo(name="test"),
        text=text,
        html=html,
        title=title,
        published=published,
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
