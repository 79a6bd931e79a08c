"""What one raw message may cost the extractor: input size, time, output size and dates.

Time limit, and why SIGALRM: the pipeline runs synchronously inside the faust agent, on the
event loop of the main thread, so a page that takes minutes stops heartbeats and commits, the
group rebalances, and the same message comes back forever. An interval timer in that thread
raises `ExtractTimeout` at the next bytecode, and CPython's regex engine checks for signals
while it matches, so a backtracking regex is interrupted too (0.5 s timer on the old 78 s
title regex: stopped after 0.57 s). C calls that do not return to Python (lxml's parser,
lingua) are not interrupted, but they are linear in their input, which `bound_input` caps.
A worker thread cannot be stopped at all (it would keep the CPU and the GIL). A process pool
can be, but measured here: 6 ms per message to ship a 600 KB page to a worker process and
back (1.6 ms of it pickling), a copy of the language models and gazetteer in each process
(+235 MB RSS), and 7 s to load them again in a replacement for each killed worker.
`ExtractTimeout` is a BaseException, so the `except Exception` of the libraries in between
(trafilatura has many) cannot swallow it. Dedup state is updated after the timed part only,
so an interrupt never leaves it half written.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from types import FrameType

from schemas.raw import RawArticle
from schemas.report import Report
from services.common.limits import MAX_VALUE_BYTES

MAX_LIST_ITEMS = 200  # entities, events, figures, paragraph languages of a cut report


class ExtractTimeout(BaseException):  # noqa: N818 - named for what happened, like TimeoutError
    """The extraction of one message ran over its time budget."""


@dataclass(frozen=True)
class Budget:
    timeout_s: float = 10.0  # 0: no time limit
    max_html_chars: int = 2_000_000
    max_text_chars: int = 500_000
    max_report_bytes: int = MAX_VALUE_BYTES
    date_min: date = date(1990, 1, 1)
    date_max_ahead: timedelta = timedelta(days=1)


def _expired(signum: int, frame: FrameType | None) -> None:
    raise ExtractTimeout()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ExtractTimeout in the block after `seconds`. Only the main thread receives
    signals: elsewhere (and with 0) the block runs unlimited, and the caller's measure of the
    time taken is the only check."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expired)
    started = monotonic()
    # Whoever had the timer before (mode's blocking detector, when faust runs in debug) gets
    # it back afterwards, with what was left of its delay.
    delay, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if delay > 0:
            left = max(delay - (monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def bound_input(raw: RawArticle, budget: Budget) -> tuple[RawArticle, bool]:
    """The article with its HTML and text cut to the budget, and whether the text was cut
    (a cut page is flagged `html_truncated`, as the ingestor does for Kafka's limit)."""
    update: dict[str, object] = {}
    text_cut = False
    if raw.html and len(raw.html) > budget.max_html_chars:
        update.update(html=raw.html[: budget.max_html_chars], html_truncated=True)
    if raw.text and len(raw.text) > budget.max_text_chars:
        update["text"] = raw.text[: budget.max_text_chars]
        text_cut = True
    return (raw.model_copy(update=update) if update else raw), text_cut


def clamp_date(value: datetime | None, budget: Budget, now: datetime) -> datetime | None:
    """A date inside [date_min, now + date_max_ahead]: a page's "0001-01-01" or "2999-01-01"
    would otherwise create an index per pushed month. A date in the window is returned as
    given (the same object), so `is` tells whether it was clamped."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    low = datetime.combine(budget.date_min, time(), tzinfo=UTC)
    high = now + budget.date_max_ahead
    if aware < low:
        return low
    if aware > high:
        return high
    return value


def encoded_size(report: Report) -> int:
    return len(report.model_dump_json().encode("utf-8"))


def _cut_text(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars]


def fit_report(report: Report, max_bytes: int) -> Report | None:
    """The report itself when it fits `max_bytes` once serialised; else a copy with its lists
    cut to MAX_LIST_ITEMS and its body and folded text halved until it does, flagged
    `truncated`. None when even the bare report does not fit."""
    if encoded_size(report) <= max_bytes:
        return report
    cut = report.model_copy(
        update={
            "truncated": True,
            "entities": report.entities[:MAX_LIST_ITEMS],
            "events": report.events[:MAX_LIST_ITEMS],
            "figures": report.figures[:MAX_LIST_ITEMS],
            "paragraph_languages": report.paragraph_languages[:MAX_LIST_ITEMS],
        }
    )
    chars = max(len(cut.body), len(cut.folded_text))
    while (size := encoded_size(cut)) > max_bytes and chars > 0:
        # Aim straight at the budget (characters may be several bytes, or escaped to six),
        # then keep halving if that was not enough.
        chars = min(chars // 2, int(chars * max_bytes / size))
        cut = cut.model_copy(
            update={
                "body": _cut_text(report.body, chars),
                "folded_text": _cut_text(report.folded_text, chars),
            }
        )
    if size <= max_bytes:
        return cut
    bare = cut.model_copy(update={"entities": [], "events": [], "figures": []})
    bare = bare.model_copy(update={"paragraph_languages": [], "headline": bare.headline[:1000]})
    return bare if encoded_size(bare) <= max_bytes else None
