"""The faust-streaming edge: raw topic -> pipeline -> report topic (and dead letters).

Only wiring lives here. Every event is handled in its own try/except: faust acknowledges a
message whose agent raised, so an uncaught error would lose it silently; instead it becomes a
DeadLetter and the stream goes on. Dedup and story state are changelog-backed faust Tables: a
restarted worker replays their changelog and remembers what it saw."""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from schemas.raw import RawArticle
from services.extractor import metrics
from services.extractor.dedup import DedupState
from services.extractor.language import preload
from services.extractor.pipeline import ExtractorConfig, extract
from services.extractor.settings import ExtractorSettings

log = logging.getLogger(__name__)
TABLES = ("dedup-hashes", "dedup-signatures", "stories")


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
        partitions = settings.topics.spec("raw").partitions
        wanted = [
            NewTopic(name, partitions, 1, topic_configs={"cleanup.policy": "compact"})
            for name in changelog_topics(settings)
            if name not in existing
        ]
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def create_app(settings: ExtractorSettings) -> faust.App:
    topics = settings.topics
    partitions = topics.spec("raw").partitions
    app = faust.App(
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
    )
    raw_topic = app.topic(topics.raw, key_type=bytes, value_type=bytes)
    report_topic = app.topic(topics.report, key_type=bytes, value_type=bytes)
    dead_topic = app.topic(topics.deadletter, key_type=bytes, value_type=bytes)

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )

    state = DedupState(
        hashes=table("dedup-hashes"),
        signatures=table("dedup-signatures"),
        stories=table("stories"),
        threshold=settings.near_dup_threshold,
        window_hours=settings.dedup_window_hours,
        story_window_hours=settings.story_window_hours,
        max_recent=settings.max_recent,
    )
    config = ExtractorConfig.from_settings(settings)

    async def dead_letter(event: Any, reason: str, error_type: str) -> None:
        message = event.message
        letter = DeadLetter.of(
            Stage.EXTRACT,
            reason,
            event.value if isinstance(event.value, bytes) else bytes(str(event.value), "utf-8"),
            error_type=error_type,
            source="extractor",
            original_topic=message.topic,
            original_partition=message.partition,
            original_offset=message.offset,
            original_key=(message.key or b"").decode("utf-8", "replace") or None,
        )
        metrics.DEAD_LETTERED.labels(error_type).inc()
        log.warning("dead-lettered", extra={"reason": reason[:300], "offset": message.offset})
        await dead_topic.send(key=message.key, value=letter.model_dump_json().encode("utf-8"))

    @app.agent(raw_topic)
    async def process(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            metrics.RAW_CONSUMED.inc()
            try:
                raw = RawArticle.model_validate_json(event.value)
            except (ValidationError, ValueError, TypeError) as exc:
                await dead_letter(event, f"invalid raw article: {exc}", "invalid_raw")
                continue
            started = time.perf_counter()
            try:
                reports = extract(raw, state, config)
            except Exception as exc:  # noqa: BLE001 - any failure of one message is its own
                log.exception("extract failed", extra={"article_id": raw.article_id})
                await dead_letter(event, f"{type(exc).__name__}: {exc}", type(exc).__name__)
                continue
            metrics.EXTRACT_SECONDS.observe(time.perf_counter() - started)
            for report in reports:
                await report_topic.send(
                    key=report.report_id.encode("utf-8"),
                    value=report.model_dump_json().encode("utf-8"),
                )
                metrics.REPORTS_PRODUCED.labels(
                    str(report.relevant).lower(), str(report.duplicate_of is not None).lower()
                ).inc()

    return app


def run_worker(settings: ExtractorSettings) -> int:
    """Run the worker until SIGINT/SIGTERM."""
    from services.common.metrics import serve_metrics

    serve_metrics(settings.metrics_port)
    preload()  # before the event loop runs: loading models there would stall the consumer
    ensure_changelogs(settings)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
    return 0
