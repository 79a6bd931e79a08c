from __future__ import annotations

from pathlib import Path

import pytest

from schemas.common import Affiliation
from services.ingestor.settings import DEFAULT_SOURCES_FILE
from services.ingestor.sources import SourcesFileError, load_sources


def test_shipped_sources_cover_every_side_of_the_region() -> None:
    entries = load_sources(DEFAULT_SOURCES_FILE)
    enabled = [e for e in entries if e.enabled]
    countries = {e.country for e in enabled}
    assert {"AM", "AZ", "RU", "TR", "GE"} <= countries
    assert any(e.affiliation == Affiliation.INTERNATIONAL and e.language == "en" for e in enabled)
    assert {"hy", "az", "ru", "tr", "ka", "en"} <= {e.language for e in enabled}
    assert len({e.url for e in entries}) == len(entries)


def test_each_source_records_who_publishes_it() -> None:
    for entry in load_sources(DEFAULT_SOURCES_FILE):
        info = entry.info()
        assert info.name and info.country and info.language and info.affiliation


def test_a_bad_entry_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "sources:\n"
        "  - {name: A, url: https://a.example/feed, country: AM, language: hy, affiliation: state}\n"
        "  - {name: B, url: ftp://b.example/, country: AZ, language: az, affiliation: state}\n"
    )
    with pytest.raises(SourcesFileError, match="entry 1"):
        load_sources(path)
