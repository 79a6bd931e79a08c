from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, RawArticle, SourceInfo, Stage, TopicNames
from schemas.export import CONTRACTS, JSON_DIR, render
from schemas.topics import TOPICS


@pytest.mark.parametrize("role", sorted(CONTRACTS))
def test_checked_in_json_schema_matches_the_model(role: str) -> None:
    path = JSON_DIR / f"{role}.schema.json"
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == render(CONTRACTS[role]), f"{path} drifted: run `make schemas`"


def test_every_topic_name_comes_from_one_declaration_with_a_namespace_prefix() -> None:
    names = TopicNames.for_namespace("t1")
    assert names.raw == "t1.cwatch.raw.v1"
    assert TopicNames().raw == "cwatch.raw.v1"
    assert len({spec.base_name for spec in TOPICS}) == len(TOPICS)
    assert all(spec.partitions >= 1 for spec in TOPICS)


def test_raw_article_without_any_content_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs html, text or at least a title"):
        RawArticle(article_id="a" * 16, source=SourceInfo(name="x"), ingested_at=datetime.now(UTC))


def test_unknown_fields_are_refused_rather_than_silently_dropped() -> None:
    with pytest.raises(ValidationError):
        RawArticle.model_validate(
            {
                "article_id": "a" * 16,
                "source": {"name": "x"},
                "ingested_at": "2026-01-01T00:00:00Z",
                "text": "t",
                "unexpected": 1,
            }
        )


def test_dead_letter_keeps_undecodable_original_bytes_exactly() -> None:
    payload = b"\xff\xfe not utf-8 \x00"
    letter = DeadLetter.of(
        Stage.EXTRACT, "invalid UTF-8", payload, original_topic="raw", original_offset=7
    )
    again = DeadLetter.model_validate_json(letter.model_dump_json())
    assert again.payload() == payload
    assert again.original_offset == 7


def test_a_dead_letter_from_a_record_points_back_at_it() -> None:
    from types import SimpleNamespace

    from schemas.deadletter import DeadLetter, Stage

    record = SimpleNamespace(topic="t", partition=2, offset=7, key=b"k\xff", value=b"bytes")
    letter = DeadLetter.from_record(Stage.INDEX, "why", record, error_type="bad")
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        "t",
        2,
        7,
    )
    assert letter.original_key == "k\ufffd" and letter.payload() == b"bytes"
    assert (
        DeadLetter.from_record(Stage.INDEX, "why", record, b"other", error_type="bad").payload()
        == b"other"
    )
