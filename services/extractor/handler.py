"""One raw message -> reports or a dead letter. The faust agent calls this and only sends the
outcome, so the error handling is tested without Kafka."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from schemas.raw import RawArticle
from schemas.report import Report
from services.extractor import metrics
from services.extractor.budget import ExtractTimeout, fit_report, time_limit
from services.extractor.dedup import DedupState
from services.extractor.pipeline import Draft, ExtractorConfig, analyse, finish

log = logging.getLogger(__name__)
STORY_FIELDS_BYTES = 4096  # story_id, duplicate links, merged story ids


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from, for its dead letter."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None


@dataclass
class Outcome:
    reports: list[Report] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    drafts: list[Draft] = field(default_factory=list)  # for the story stage


def _letter(value: bytes, origin: Origin, reason: str, error_type: str) -> DeadLetter:
    metrics.DEAD_LETTERED.labels(error_type).inc()
    log.warning("dead-lettered", extra={"reason": reason[:300], "offset": origin.offset})
    return DeadLetter.from_record(
        Stage.EXTRACT, reason, origin, value, error_type=error_type, source="extractor"
    )


def handle_raw(value: bytes, origin: Origin, state: DedupState, config: ExtractorConfig) -> Outcome:
    """Both stages in one process (`cwatch extract`, tests): never raises."""
    staged = stage_raw(value, origin, config)
    if staged.dead_letter is not None:
        return staged
    return _finished(staged.drafts, value, origin, state, config.budget.max_report_bytes)


def stage_raw(value: bytes, origin: Origin, config: ExtractorConfig) -> Outcome:
    """The extraction stage: one raw message -> drafts for the story stage, or a dead letter.
    Never raises: whatever goes wrong with this message becomes its dead letter."""
    metrics.RAW_CONSUMED.inc()
    try:
        raw = RawArticle.model_validate_json(value)
    except (ValidationError, ValueError, TypeError) as exc:
        return Outcome(
            dead_letter=_letter(value, origin, f"invalid raw article: {exc}", "invalid_raw")
        )
    budget = config.budget
    started = time.perf_counter()
    drafts: list[Draft] | None = None
    try:
        with time_limit(budget.timeout_s):
            drafts = analyse(raw, config)
    except ExtractTimeout:
        pass
    except Exception as exc:  # noqa: BLE001 - one message's failure must not stop the stream
        log.exception("extract failed", extra={"article_id": raw.article_id})
        return Outcome(
            dead_letter=_letter(value, origin, f"{type(exc).__name__}: {exc}", type(exc).__name__)
        )
    elapsed = time.perf_counter() - started
    if drafts is None or (budget.timeout_s and elapsed > budget.timeout_s):
        # Off the main thread the timer cannot interrupt: the time taken still decides.
        reason = f"extraction took over its budget of {budget.timeout_s:g} s ({elapsed:.1f} s)"
        return Outcome(dead_letter=_letter(value, origin, reason, "extract_timeout"))
    fitted_drafts = []
    for draft in drafts:
        # the story stage adds a few ids: leave them room
        fitted = fit_report(draft.report, budget.max_report_bytes - STORY_FIELDS_BYTES)
        if fitted is None:
            reason = f"report {draft.report.report_id} does not fit {budget.max_report_bytes} bytes"
            return Outcome(dead_letter=_letter(value, origin, reason, "report_too_large"))
        fitted_drafts.append(replace(draft, report=fitted))
    metrics.EXTRACT_SECONDS.observe(elapsed)
    return Outcome(drafts=fitted_drafts)


def handle_staged(
    value: bytes, origin: Origin, state: DedupState, max_report_bytes: int
) -> Outcome:
    """The story stage: one draft -> its report (and a corrected earlier copy, if any).
    Never raises."""
    draft = parse_draft(value, origin)
    if isinstance(draft, Outcome):
        return draft
    return _finished([draft], value, origin, state, max_report_bytes)


def parse_draft(value: bytes, origin: Origin) -> Draft | Outcome:
    """A draft from the story stage's topic, or the dead letter of a message that is none."""
    try:
        return Draft.from_json(value)
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        return Outcome(dead_letter=_letter(value, origin, f"invalid draft: {exc}", "invalid_draft"))


def handle_draft(
    draft: Draft, value: bytes, origin: Origin, state: DedupState, max_report_bytes: int
) -> Outcome:
    """The story stage on a draft already parsed (held for ordering). Never raises."""
    return _finished([draft], value, origin, state, max_report_bytes)


def _finished(
    drafts: list[Draft], value: bytes, origin: Origin, state: DedupState, max_bytes: int
) -> Outcome:
    reports = []
    for report in finish(drafts, state):
        fitted = fit_report(report, max_bytes)
        if fitted is None:
            reason = f"report {report.report_id} does not fit {max_bytes} bytes"
            return Outcome(dead_letter=_letter(value, origin, reason, "report_too_large"))
        reports.append(fitted)
    for report in reports:
        metrics.REPORTS_PRODUCED.labels(
            str(report.relevant).lower(), str(report.duplicate_of is not None).lower()
        ).inc()
    return Outcome(reports=reports)
