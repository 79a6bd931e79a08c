from __future__ import annotations

import pytest

from schemas.deadletter import Stage
from services.extractor import handler as handler_module
from services.extractor.dedup import DedupState
from services.extractor.handler import Origin, handle_raw
from services.extractor.pipeline import ExtractorConfig

from .conftest import fixture_text, make_raw

ORIGIN = Origin(topic="ns.cwatch.raw.v1", partition=3, offset=42, key=b"k-1")


@pytest.fixture
def config() -> ExtractorConfig:
    return ExtractorConfig()


def test_valid_raw_message_gives_reports(config: ExtractorConfig) -> None:
    value = make_raw(text=fixture_text("tr_protest.txt")).model_dump_json().encode()
    outcome = handle_raw(value, ORIGIN, DedupState(), config)
    assert outcome.dead_letter is None
    assert [r.language for r in outcome.reports] == ["tr"]


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (b"{not json", "invalid_raw"),
        (b'{"article_id": "short"}', "invalid_raw"),
        (b"\xff\xfe\x00binary", "invalid_raw"),
    ],
)
def test_bad_message_becomes_a_dead_letter_with_its_origin_and_bytes(
    value: bytes, error_type: str, config: ExtractorConfig
) -> None:
    outcome = handle_raw(value, ORIGIN, DedupState(), config)
    assert outcome.reports == []
    letter = outcome.dead_letter
    assert letter is not None
    assert letter.stage is Stage.EXTRACT and letter.error_type == error_type
    assert letter.payload() == value
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        "ns.cwatch.raw.v1",
        3,
        42,
    )
    assert letter.original_key == "k-1"


def test_a_crash_inside_the_pipeline_is_dead_lettered_and_the_next_message_works(
    monkeypatch: pytest.MonkeyPatch, config: ExtractorConfig
) -> None:
    real = handler_module.analyse
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("gazetteer exploded")
        return real(*args, **kwargs)

    monkeypatch.setattr(handler_module, "analyse", flaky)
    value = make_raw(text=fixture_text("el_talks.txt")).model_dump_json().encode()
    state = DedupState()
    first = handle_raw(value, ORIGIN, state, config)
    assert first.dead_letter is not None
    assert first.dead_letter.error_type == "RuntimeError"
    assert "gazetteer exploded" in first.dead_letter.reason
    second = handle_raw(value, ORIGIN, state, config)
    assert second.dead_letter is None and len(second.reports) == 1
