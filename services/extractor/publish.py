"""Sending one message's outcome from the faust agent: its reports, or its dead letter.

A send the producer refuses (e.g. MessageSizeTooLarge) must not be lost silently: faust
acknowledges the message whatever the agent does with it, so the refusal becomes the
message's dead letter. Letters are capped by `services.common.dlq.encode`, so that one
always fits."""

from __future__ import annotations

import logging
from typing import Any

from schemas.deadletter import DeadLetter, Stage
from schemas.topics import key_for
from services.common.dlq import encode
from services.extractor import metrics
from services.extractor.handler import Origin, Outcome

log = logging.getLogger(__name__)


def _refused(value: bytes, origin: Origin, report_id: str, exc: BaseException) -> DeadLetter:
    metrics.DEAD_LETTERED.labels("report_send_failed").inc()
    log.warning("report refused", extra={"report_id": report_id, "error": repr(exc)[:300]})
    return DeadLetter.from_record(
        Stage.EXTRACT,
        f"report {report_id} not sent: {type(exc).__name__}: {exc}",
        origin,
        value,
        error_type="report_send_failed",
        source="extractor",
    )


async def publish(
    outcome: Outcome, value: bytes, origin: Origin, report_topic: Any, dead_topic: Any
) -> None:
    """Send the outcome; a refused report is dead-lettered with the original message."""
    letters = [outcome.dead_letter] if outcome.dead_letter is not None else []
    for report in outcome.reports:
        try:
            await report_topic.send(
                key=key_for("report", report),
                value=report.model_dump_json().encode("utf-8"),
            )
        except Exception as exc:  # noqa: BLE001 - whatever the producer refuses is dead-lettered
            letters.append(_refused(value, origin, report.report_id, exc))
    for letter in letters:
        await dead_topic.send(key=key_for("deadletter", letter), value=encode(letter))
