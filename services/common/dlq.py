"""Dead-letter publishing, shared by every stage: failed items are kept with their reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from schemas.deadletter import DeadLetter
from schemas.topics import key_for
from services.common.kafka import headers
from services.common.limits import MAX_VALUE_BYTES
from services.common.redact import mask_text

log = logging.getLogger(__name__)


class DeadLetterFailed(KafkaError):
    """The dead-letter topic did not take a letter (broker away or timed out). Not the failure
    of whatever the caller was doing when it dead-lettered: the caller must not commit the
    original's offset, and should say that Kafka, not its own dependency, is the problem.
    A KafkaError, as what the sink raised before, for callers that already handle those."""


def masked(letter: DeadLetter) -> DeadLetter:
    """The letter with URL credentials and bearer-style webhook paths masked in its reason and
    source (services/common/redact.py): dead letters are read by operators and replayed by
    tools; a secret that reached an error text must not travel further."""
    reason, source = mask_text(letter.reason), letter.source and mask_text(letter.source)
    if reason == letter.reason and source == letter.source:
        return letter
    return letter.model_copy(update={"reason": reason, "source": source})


def encode(letter: DeadLetter, max_bytes: int = MAX_VALUE_BYTES) -> bytes:
    """The letter's bytes, masked, never over `max_bytes`: when even the cut payload does not
    fit, it goes, and the letter refers to the original by topic/partition/offset. Every
    dead-letter producer encodes through here."""
    letter = masked(letter)
    value = letter.model_dump_json().encode("utf-8")
    if len(value) > max_bytes:
        value = letter.without_payload().model_dump_json().encode("utf-8")
    return value


# The exit status of a stage stopped by its DlqLimit, the same for every stage: EX_SOFTWARE
# (sysexits.h), a bug or a contract change, not the input or the host. A supervisor restarts
# it; an operator reads the ratio in its last log line.
EXIT_TOO_MANY_DEAD_LETTERS = 70


class TooManyDeadLetters(RuntimeError):
    """More of the consumed records failed than the stage's DlqLimit allows: not bad input
    any more but a bug or a contract change, which must stop the stage (its offsets stay
    uncommitted, so nothing is lost) rather than move the whole topic to the dead letters."""


@dataclass(frozen=True)
class DlqLimit:
    """As arroyo's DlqLimit: at most `max_ratio` of the records seen in a window of `window`
    records may be dead-lettered (counted once `min_seen` records of the window were seen),
    and at most `max_consecutive` in a row. None: no such limit."""

    max_ratio: float | None = None
    max_consecutive: int | None = None
    window: int = 1000
    min_seen: int = 100


class DeadLetterCount:
    """The counts a DlqLimit is checked against: the records consumed (`seen`), the run of
    dead letters a good record ends (`ok`), and each record about to be dead-lettered (`dead`,
    which raises TooManyDeadLetters when it would break the limit). Apart from the sink for a
    stage that decides on one thread and sends its letters on others (alerts dispatch)."""

    def __init__(self, limit: DlqLimit | None = None) -> None:
        self._limit = limit or DlqLimit()
        self._seen = 0
        self._dead = 0
        self._consecutive = 0

    def seen(self, count: int = 1) -> None:
        """`count` records consumed (dead-lettered or not)."""
        if self._seen >= self._limit.window:
            self._seen = self._dead = 0
        self._seen += count

    def ok(self) -> None:
        """A record went through: the run of consecutive dead letters is over."""
        self._consecutive = 0

    @property
    def ratio(self) -> float:
        """The share of the current window's records dead-lettered (0 before any was seen)."""
        seen = max(self._seen, self._dead)
        return self._dead / seen if seen else 0.0

    def dead(self) -> None:
        limit = self._limit
        self._dead += 1
        self._consecutive += 1
        if limit.max_consecutive is not None and self._consecutive > limit.max_consecutive:
            raise TooManyDeadLetters(
                f"{self._consecutive} dead letters in a row (at most {limit.max_consecutive})"
            )
        seen = max(self._seen, self._dead)
        if limit.max_ratio is not None and seen >= limit.min_seen:
            if self._dead / seen > limit.max_ratio:
                raise TooManyDeadLetters(
                    f"{self._dead} of the last {seen} records dead-lettered "
                    f"(at most {limit.max_ratio:.0%})"
                )


class DeadLetterSink:
    """Sends DeadLetter records; `send` blocks until the broker acknowledged, so a caller may
    commit the original offset right after. Raises DeadLetterFailed when it was not, and
    TooManyDeadLetters when the letter would break the limit (the caller reports each record
    it consumed with `seen`)."""

    def __init__(self, producer: KafkaProducer, topic: str, limit: DlqLimit | None = None) -> None:
        self._producer = producer
        self._topic = topic
        self._count = DeadLetterCount(limit)

    def seen(self, count: int = 1) -> None:
        """`count` records consumed (dead-lettered or not)."""
        self._count.seen(count)

    def ok(self) -> None:
        """A record went through: the run of consecutive dead letters is over."""
        self._count.ok()

    def send(self, letter: DeadLetter, timeout_s: float = 30.0) -> None:
        self._count.dead()
        letter = masked(letter)
        log.warning(
            "dead-lettered",
            extra={
                "stage": letter.stage.value,
                "reason": letter.reason[:300],
                "key": letter.original_key,
            },
        )
        value = encode(letter)
        try:
            self._send(letter, value, timeout_s)
        except MessageSizeTooLargeError:
            # A broker (or topic) limit lower than ours: the reference alone must do.
            try:
                self._send(letter, letter.without_payload().model_dump_json().encode(), timeout_s)
            except KafkaError as exc:
                raise DeadLetterFailed(f"dead letter refused: {exc!r}") from exc
        except KafkaError as exc:
            raise DeadLetterFailed(f"dead letter not sent: {exc!r}") from exc

    def _send(self, letter: DeadLetter, value: bytes, timeout_s: float) -> None:
        future = self._producer.send(
            self._topic,
            key=key_for("deadletter", letter),
            value=value,
            headers=headers(source=mask_text(letter.source or "")[:1000], stage=letter.stage.value),
        )
        future.get(timeout=timeout_s)
