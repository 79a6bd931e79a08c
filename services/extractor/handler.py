"""One raw message -> reports or a dead letter. The faust agent calls this and only sends the
outcome, so the error handling is tested without Kafka."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from schemas.raw import RawArticle
from schemas.report import Report
from services.extractor import metrics
from services.extractor.budget import ExtractTimeout, fit_report, time_limit
from services.extractor.dedup import DedupState
from services.extractor.pipeline import Draft, ExtractorConfig, analyse, finish

log = logging.getLogger(__name__)


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


def _letter(value: bytes, origin: Origin, reason: str, error_type: str) -> DeadLetter:
    metrics.DEAD_LETTERED.labels(error_type).inc()
    log.warning("dead-lettered", extra={"reason": reason[:300], "offset": origin.offset})
    return DeadLetter.from_record(
        Stage.EXTRACT, reason, origin, value, error_type=error_type, source="extractor"
    )


def handle_raw(value: bytes, origin: Origin, state: DedupState, config: ExtractorConfig) -> Outcome:
    """Never raises: whatever goes wrong with this message becomes its dead letter."""
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
    reports = []
    for report in finish(drafts, state):
        fitted = fit_report(report, budget.max_report_bytes)
        if fitted is None:
            reason = f"report {report.report_id} does not fit {budget.max_report_bytes} bytes"
            return Outcome(dead_letter=_letter(value, origin, reason, "report_too_large"))
        reports.append(fitted)
    metrics.EXTRACT_SECONDS.observe(elapsed)
    for report in reports:
        metrics.REPORTS_PRODUCED.labels(
            str(report.relevant).lower(), str(report.duplicate_of is not None).lower()
        ).inc()
    return Outcome(reports=reports)
