"""Structured JSON logs on stderr; `extra={...}` fields become JSON keys (report_id, ...).

Every line passes through `services.common.redact.mask_text`: a URL with credentials or a
bearer-style webhook path never reaches a log, whichever module formatted it (a message, an
extra field, an exception's text).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.common.redact import mask_text

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _masked(value: object) -> object:
    """Strings masked, inside lists and dicts too (anything else: when serialised)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = _masked(value)
        if record.exc_info:
            payload["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=lambda v: mask_text(str(v)), ensure_ascii=False)


class MaskedFormatter(logging.Formatter):
    """The plain-text format, masked the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def setup_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "aiokafka", "elastic_transport", "urllib3", "httpx", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python's I/O loop warns whenever one of its steps took over 0.1 s, which is any
    # moment the machine is busy (a warning a minute in a benchmark, nothing to act on).
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
