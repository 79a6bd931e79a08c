"""The faust-streaming edge, two stages (issue 20):

raw topic -> extraction (`handler.stage_raw`, every worker, every raw partition) -> the story
stage's topic (one partition) -> duplicates and stories (`handler.handle_staged`, the one
worker that holds that partition) -> report topic (and dead letters).

Extraction is the costly part and scales with the workers; deciding duplicates and stories is
cheap (well under a millisecond per report) and is done in one place, over changelog-backed
tables that no other worker writes: whatever the number of workers and however the raw
partitions are spread, every report meets every possible original and story, so the answer
does not depend on the number of workers. A worker that dies hands the stage's partition to
another, which rebuilds the tables from their changelog.

Only wiring lives here. Both handlers never raise: faust acknowledges a message whose agent
raised, so an uncaught error would lose it silently (and stop the agent); instead the message
becomes a DeadLetter and the stream goes on. Past the dead-letter cap (`dlq_cap.py`, off by
default) the worker exits instead, without acknowledging the message that broke it."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import faust

from services.common.dlq import TooManyDeadLetters
from services.common.membership import instance_id
from services.extractor import metrics
from services.extractor.backpressure import settle_changelog
from services.extractor.dedup import DedupState
from services.extractor.dlq_cap import RawDeadLetterCap, stop_uncommitted
from services.extractor.handler import (
    Origin,
    Outcome,
    handle_draft,
    handle_staged,
    parse_draft,
    stage_raw,
)
from services.extractor.language import preload
from services.extractor.order import OrderBuffer, Watermark, parse_progress, progress_marker
from services.extractor.pipeline import ExtractorConfig
from services.extractor.publish import publish
from services.extractor.recovery_guard import RecoveryGuard
from services.extractor.rewind import RewindingApp
from services.extractor.settings import ExtractorSettings
from services.extractor.watchdog import StallWatchdog

log = logging.getLogger(__name__)
STORY_KEY = b"story"  # one partition: the key only has to be constant
TICK = b"tick"  # an earlier version's wake-up, in place of the progress markers
TABLES = ("story-hashes", "story-signatures", "story-profiles")
STORY_PARTITIONS = 1  # the story stage: one owner, hence one answer


def story_topic_name(settings: ExtractorSettings) -> str:
    return f"{settings.faust_id}-story-stage"


def changelog_topics(settings: ExtractorSettings) -> list[str]:
    return [f"{settings.faust_id}-{name}-changelog" for name in TABLES]


def ensure_changelogs(settings: ExtractorSettings) -> None:
    """Create the tables' changelog topics up front. Left to faust, a freshly created topic may
    be missing from the metadata it reads right after, and the table then fails with
    PartitionsMismatch on its first write."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from services.common.kafka import bootstrap_list, ensure_topics

    ensure_topics(settings.kafka_bootstrap_servers, settings.topics)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_list(settings.kafka_bootstrap_servers))
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, STORY_PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"})
            for name in changelog_topics(settings)
            if name not in existing
        ]
        if story_topic_name(settings) not in existing:
            wanted.append(NewTopic(story_topic_name(settings), STORY_PARTITIONS, 1))
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def group_settings(settings: ExtractorSettings) -> dict[str, Any]:
    """faust's consumer-group settings (see the README, "How recovery works").

    - A stable group.instance.id: a restarted worker takes its dead predecessor's place and
      partitions at once, instead of waiting for the dead member's session to expire.
    - A 10 s session (faust: 60 s): a worker that dies and is not restarted hands its partitions
      to the others after that long. Heartbeats come from faust's consumer thread, so a long
      extraction on the event loop does not miss them.
    """
    session_s = settings.extractor_session_timeout_ms / 1000
    return {
        "consumer_group_instance_id": instance_id(settings.faust_id, settings.group_instance_id),
        "broker_session_timeout": session_s,
        "broker_heartbeat_interval": max(1.0, session_s / 5),
        "broker_rebalance_timeout": max(session_s, 30.0),
    }


def create_app(settings: ExtractorSettings, models: Future[None] | None = None) -> faust.App:
    topics = settings.topics
    partitions = topics.spec("raw").partitions
    app = RewindingApp(
        settings.faust_id,
        broker=settings.broker_url,
        datadir=str(settings.data_dir),
        store="memory://",  # tables are rebuilt from their changelog topics at start
        topic_partitions=partitions,
        topic_allow_declare=True,
        web_enabled=bool(settings.worker_web_port),
        web_port=settings.worker_web_port or 6066,
        key_serializer="raw",
        value_serializer="raw",
        producer_max_request_size=8 * 1024 * 1024,
        consumer_max_fetch_size=8 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        **group_settings(settings),
    )
    raw_topic = app.topic(topics.raw, key_type=bytes, value_type=bytes)
    report_topic = app.topic(topics.report, key_type=bytes, value_type=bytes)
    dead_topic = app.topic(topics.deadletter, key_type=bytes, value_type=bytes)
    story_topic = app.topic(
        story_topic_name(settings),
        key_type=bytes,
        value_type=bytes,
        partitions=STORY_PARTITIONS,
        internal=True,
    )

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=STORY_PARTITIONS,
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )

    state = DedupState(
        hashes=table("story-hashes"),
        signatures=table("story-signatures"),
        stories=table("story-profiles"),
        threshold=settings.near_dup_threshold,
        window_hours=settings.dedup_window_hours,
        max_recent=settings.max_recent,
    )
    config = ExtractorConfig.from_settings(settings)
    cap = RawDeadLetterCap(settings.extractor_dlq_max_ratio or None)

    @app.on_rebalance_complete.connect
    def _rebalanced(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        state.reset_index()

    if settings.extractor_stall_rewind_s > 0:
        # Both stages' topics: faust drops records in the same places whichever topic they
        # come from (rewind.py), and one dropped in the story stage's partition loses its
        # report as surely as one dropped in a raw partition. The story topic is read all the
        # time (its ticks), so there only a commit that does not move counts as no progress.
        after_s = settings.extractor_stall_rewind_s
        watchdogs = [
            StallWatchdog(app, topics.raw, after_s),
            StallWatchdog(app, story_topic_name(settings), after_s, track_read=False),
        ]

        @app.timer(interval=min(5.0, settings.extractor_stall_rewind_s / 3))
        async def _watch_for_stalls() -> None:
            for watchdog in watchdogs:
                try:
                    await watchdog.check()
                except Exception:  # a failed look is retried at the next tick
                    log.exception("stall watchdog check failed", extra={"topic": watchdog.topic})

    # Per raw partition, for the story stage's watermark: the publication time of the latest
    # draft extracted here, and the records waiting behind the last one extracted.
    latest_when: dict[int, float] = {}
    extracted: dict[int, int] = {}

    def waiting(tp: Any) -> int:
        consumer: Any = app.consumer
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - taken by a rebalance meanwhile
            return 1  # not known to be idle
        # the group's commit where it is further: this worker may have had the partition
        # before, and another may have read on since
        done = extracted.get(tp.partition, -1)
        after = max(done + 1, consumer._committed_offset.get(tp) or 0)
        return 1 if end is None else max(0, end - after)

    if settings.extractor_recovery_stuck_s > 0:
        guard = RecoveryGuard(app, settings.extractor_recovery_stuck_s)

        @app.timer(interval=5.0)
        async def _watch_recovery() -> None:
            try:
                guard.check()
            except Exception:  # a failed look is retried at the next tick
                log.exception("recovery guard check failed")

    @app.agent(raw_topic)
    async def process(stream: faust.StreamT[Any]) -> None:
        if models is not None:
            try:
                await asyncio.wrap_future(models)
            except Exception:  # not fatal: the models then load with the first message
                log.exception("language models did not preload")
        async for event in stream.events():
            message = event.message
            value = event.value if isinstance(event.value, bytes) else str(event.value).encode()
            origin = Origin(message.topic, message.partition, message.offset, message.key)
            outcome = stage_raw(value, origin, config)
            try:
                cap.check(outcome)
            except TooManyDeadLetters as exc:
                await stop_uncommitted(app, origin, exc)  # exits, this event unacknowledged
            extracted[message.partition] = message.offset
            behind = waiting(message.tp)
            for draft in outcome.drafts:
                latest_when[message.partition] = draft.features.when
                draft.progress = (message.partition, behind)
                await story_topic.send(key=STORY_KEY, value=draft.to_json().encode("utf-8"))
            await publish(outcome, value, origin, report_topic, dead_topic)
            # None of these awaits suspends while the stream has events ready: a turn of the
            # loop here lets the story stage and the producer buffer's task run during a backlog.
            await asyncio.sleep(0)

    window = settings.story_order_window_s
    max_bytes = config.budget.max_report_bytes

    @app.agent(story_topic)
    async def place(stream: faust.StreamT[Any]) -> None:
        if window <= 0:
            async for event in stream.events():
                value, origin = _value_and_origin(event)
                outcome = handle_staged(value, origin, state, max_bytes)
                await publish(outcome, value, origin, report_topic, dead_topic)
                await settle_changelog(app.producer.buffer)  # the table writes go out first
            return
        # Ordered: each draft waits in a heap by publication time until every raw partition's
        # extraction has got past it (order.py: `Watermark`, fed by the drafts and by each
        # worker's progress markers), at most `window` seconds; the due ones are decided
        # oldest first. A worker that keeps up has nothing waiting, so nothing is held.
        # Acknowledged only once decided, so a draft held by a worker that dies is read again
        # by the next owner.
        held: OrderBuffer[tuple[Any, bytes, Origin, Any]] = OrderBuffer(
            window, on_release=lambda reason: metrics.STORY_RELEASED.labels(reason).inc()
        )
        watermark = Watermark(partitions)
        unacked: Any = stream.noack()  # type: ignore[attr-defined]  # faust's Stream has it
        async for event in unacked.events():
            value, origin = _value_and_origin(event)
            progress = [] if value == TICK else parse_progress(value)
            if progress is not None:
                for partition, when, behind in progress:
                    watermark.saw(partition, when, behind)
                event.ack()
            else:
                draft = parse_draft(value, origin)
                if isinstance(draft, Outcome):
                    await publish(draft, value, origin, report_topic, dead_topic)
                    event.ack()
                else:
                    if draft.progress is not None:
                        watermark.saw(draft.progress[0], draft.features.when, draft.progress[1])
                    held.add(
                        draft.features.when, draft.report.report_id, (draft, value, origin, event)
                    )
            for draft, value, origin, held_event in held.due(watermark.limit()):
                outcome = handle_draft(draft, value, origin, state, max_bytes)
                await publish(outcome, value, origin, report_topic, dead_topic)
                held_event.ack()
                # after each: a backlog's worth may come due at once
                await settle_changelog(app.producer.buffer)
            await settle_changelog(app.producer.buffer)

    @app.timer(1.0)
    async def mark_progress() -> None:
        """How far this worker's raw partitions have got (and a wake-up for the held drafts
        when no draft comes)."""
        if window <= 0:
            return
        try:
            mine = [tp for tp in app.consumer.assignment() if tp.topic == topics.raw]
        except Exception:  # noqa: BLE001 - not assigned yet: a wake-up alone
            mine = []
        entries = [(tp.partition, latest_when.get(tp.partition), waiting(tp)) for tp in mine]
        await story_topic.send(key=STORY_KEY, value=progress_marker(entries))

    return app


def _value_and_origin(event: Any) -> tuple[bytes, Origin]:
    message = event.message
    value = event.value if isinstance(event.value, bytes) else str(event.value).encode()
    return value, Origin(message.topic, message.partition, message.offset, message.key)


def run_worker(settings: ExtractorSettings) -> int:
    """Run the worker until SIGINT/SIGTERM."""
    from services.common.metrics import serve_metrics

    serve_metrics(settings.metrics_port, settings.metrics_host)
    # The language models (seconds of CPU) load in a thread while the worker builds its
    # gazetteer, joins its group and recovers its tables; the agent waits for them before its
    # first message.
    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preload")
    models = loader.submit(preload)
    loader.shutdown(wait=False)
    ensure_changelogs(settings)
    app = create_app(settings, models)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
    return 0
