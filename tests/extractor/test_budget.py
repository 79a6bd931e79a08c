"""Budgets per message: time, input size, output size and dates of one raw article."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka.errors import MessageSizeTooLargeError

from schemas.deadletter import DeadLetter, Stage
from schemas.report import Report
from services.common.limits import MAX_VALUE_BYTES
from services.extractor import pipeline as pipeline_module
from services.extractor.budget import Budget, fit_report
from services.extractor.dedup import DedupState
from services.extractor.handler import Origin, Outcome, handle_raw
from services.extractor.pipeline import ExtractorConfig
from services.extractor.publish import publish

from .conftest import fixture_text, make_raw

ORIGIN = Origin(topic="ns.cwatch.raw.v1", partition=1, offset=7, key=b"k-7")


def _value(**kw: Any) -> bytes:
    return make_raw(**kw).model_dump_json().encode()


def test_a_page_over_the_time_budget_is_dead_lettered_and_the_next_one_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_clean = pipeline_module.clean

    def stuck(*args: Any, **kwargs: Any) -> Any:
        until = time.monotonic() + 5  # a page that would hold the agent for 5 s
        while time.monotonic() < until:
            pass
        return real_clean(*args, **kwargs)

    config = ExtractorConfig(budget=Budget(timeout_s=0.5))
    monkeypatch.setattr(pipeline_module, "clean", stuck)
    started = time.monotonic()
    outcome = handle_raw(_value(text=fixture_text("tr_protest.txt")), ORIGIN, DedupState(), config)
    assert time.monotonic() - started < 2
    assert outcome.reports == [] and outcome.dead_letter is not None
    assert outcome.dead_letter.error_type == "extract_timeout"
    assert "budget" in outcome.dead_letter.reason
    assert outcome.dead_letter.original_offset == 7

    monkeypatch.setattr(pipeline_module, "clean", real_clean)
    value = _value(text=fixture_text("tr_protest.txt"))
    after = handle_raw(value, ORIGIN, DedupState(), ExtractorConfig())
    assert after.dead_letter is None and len(after.reports) == 1


def test_the_time_limit_gives_the_timer_and_its_handler_back() -> None:
    def other(signum: int, frame: object) -> None:
        raise AssertionError("the other timer fired")

    before = signal.signal(signal.SIGALRM, other)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 60)  # e.g. pytest-timeout's
    try:
        config = ExtractorConfig(budget=Budget(timeout_s=5))
        handle_raw(_value(text=fixture_text("en_clash.txt")), ORIGIN, DedupState(), config)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 50 < left <= 60
        assert signal.getsignal(signal.SIGALRM) is other
    finally:
        signal.setitimer(signal.ITIMER_REAL, *previous_timer)
        signal.signal(signal.SIGALRM, before)


def test_pushed_text_over_the_input_budget_is_cut_and_the_report_flagged() -> None:
    paragraph = fixture_text("en_clash.txt").replace("\n", " ")
    text = "\n\n".join([paragraph] * (1_000_000 // len(paragraph) + 1))
    config = ExtractorConfig(budget=Budget(max_text_chars=20_000))
    outcome = handle_raw(_value(text=text, title="Clashes"), ORIGIN, DedupState(), config)
    assert outcome.dead_letter is None
    (report,) = outcome.reports
    assert report.truncated and len(report.body) <= 20_000


def _big_report(body: str) -> Report:
    return Report(
        report_id="article-big-1",
        article_id="article-big-1",
        source={"name": "push"},  # type: ignore[arg-type]
        body=body,
        folded_text=body.encode("ascii", "ignore").decode(),
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        extracted_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_hash="h",
        story_id="s",
    )


@pytest.mark.parametrize(
    "body",
    [
        "Shelling near Lachin. " * 330_000,  # a ~7 MB pushed text: the report was about twice
        "\x01" * 3_000_000,  # escaped to six bytes each in JSON
        "Ереван " * 700_000,  # two bytes a letter
    ],
    ids=["ascii", "control-characters", "cyrillic"],
)
def test_a_report_is_cut_to_the_message_limit_with_a_flag(body: str) -> None:
    report = _big_report(body)
    fitted = fit_report(report, MAX_VALUE_BYTES)
    assert fitted is not None and fitted.truncated
    assert len(fitted.model_dump_json().encode()) <= MAX_VALUE_BYTES
    assert fitted.body and report.body.startswith(fitted.body)


def test_a_report_that_fits_is_left_as_it_is() -> None:
    report = _big_report("Talks in Moscow.")
    assert fit_report(report, MAX_VALUE_BYTES) is report


class FakeTopic:
    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.sent: list[bytes] = []

    async def send(self, key: bytes | None = None, value: bytes = b"") -> None:
        if self.limit is not None and len(value) > self.limit:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        self.sent.append(value)


def test_a_report_the_producer_refuses_is_dead_lettered_not_lost() -> None:
    config = ExtractorConfig()
    value = _value(text=fixture_text("en_clash.txt"))
    outcome = handle_raw(value, ORIGIN, DedupState(), config)
    reports, dead = FakeTopic(limit=100), FakeTopic()
    asyncio.run(publish(outcome, value, ORIGIN, reports, dead))
    assert reports.sent == []
    (letter,) = [DeadLetter.model_validate_json(v) for v in dead.sent]
    assert letter.error_type == "report_send_failed" and letter.payload() == value
    assert (letter.original_partition, letter.original_offset) == (1, 7)


def test_a_dead_letter_of_a_huge_message_fits_the_limit_and_points_at_the_original() -> None:
    value = b"x" * (9 * 1024 * 1024)
    outcome = Outcome(
        dead_letter=DeadLetter.of(
            Stage.EXTRACT,
            "invalid raw article",
            value,
            original_topic=ORIGIN.topic,
            original_partition=1,
            original_offset=7,
        )
    )
    dead = FakeTopic(limit=MAX_VALUE_BYTES)
    asyncio.run(publish(outcome, value, ORIGIN, FakeTopic(), dead))
    (letter,) = [DeadLetter.model_validate_json(v) for v in dead.sent]
    assert letter.payload_truncated and letter.payload_size == len(value)
    assert value.startswith(letter.payload())
    assert (letter.original_topic, letter.original_offset) == (ORIGIN.topic, 7)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), datetime(1990, 1, 1, tzinfo=UTC)),
        (datetime(1899, 12, 31), datetime(1990, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_date_far_in_the_past_is_clamped_and_the_original_kept(
    given: datetime, expected: datetime
) -> None:
    value = _value(text=fixture_text("en_clash.txt"), published=given)
    (report,) = handle_raw(value, ORIGIN, DedupState(), ExtractorConfig()).reports
    assert report.published == expected
    assert report.published_original is not None
    assert report.published_original.replace(tzinfo=UTC) == given.replace(tzinfo=UTC)


def test_a_date_far_in_the_future_is_clamped_to_tomorrow() -> None:
    value = _value(text=fixture_text("en_clash.txt"), published=datetime(2999, 1, 1, tzinfo=UTC))
    (report,) = handle_raw(value, ORIGIN, DedupState(), ExtractorConfig()).reports
    assert report.published is not None
    assert report.published <= datetime.now(UTC) + timedelta(days=1)
    assert report.published_original == datetime(2999, 1, 1, tzinfo=UTC)


def test_a_plausible_date_is_kept_as_given() -> None:
    when = datetime(2025, 6, 1, 8, 30)
    value = _value(text=fixture_text("en_clash.txt"), published=when)
    (report,) = handle_raw(value, ORIGIN, DedupState(), ExtractorConfig()).reports
    assert report.published == when and report.published_original is None
