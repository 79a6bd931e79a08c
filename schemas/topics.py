"""Every topic, index and schema version of the system, declared once.

Tests and parallel deployments isolate themselves with a namespace prefix
(`TopicNames.for_namespace("t123")`), never by spelling topic names elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1
"""Version of the message contracts; carried in every message body and Kafka header."""

INDEX_ALIAS = "cwatch-reports"
"""Alias the search API reads; it points at the current time-based report indices."""


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic: its logical role, its base name, its partition count, and what its
    records are: the value's model, and the key, as the field of that model it is taken from
    (records of one key keep their order: one partition each)."""

    role: str
    base_name: str
    partitions: int
    key_field: str
    key: str  # the key in words, for people (the README's topic table)
    value: str  # the value's model in schemas/
    flow: str  # from -> to
    retention_ms: int = 7 * 24 * 3600 * 1000
    compacted: bool = False

    def key_of(self, message: object) -> bytes | None:
        """The record key of `message` on this topic (None when the field is empty)."""
        value = getattr(message, self.key_field)
        return str(value).encode("utf-8") if value else None


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "raw",
        "cwatch.raw.v1",
        partitions=6,
        key_field="article_id",
        key="article id",
        value="`RawArticle`",
        flow="ingestor -> extractor",
    ),
    TopicSpec(
        "report",
        "cwatch.report.v1",
        partitions=6,
        key_field="report_id",
        key="report id",
        value="`Report`",
        flow="extractor -> indexer",
    ),
    # By story: the live feed and alerts see a story's versions in the order they were indexed.
    TopicSpec(
        "indexed",
        "cwatch.indexed.v1",
        partitions=3,
        key_field="story_id",
        key="story id",
        value="`IndexedEvent`",
        flow="indexer -> live feed, alerts",
    ),
    # By subscription: a subscription's alerts stay in order for the receivers that read them.
    TopicSpec(
        "alert",
        "cwatch.alert.v1",
        partitions=3,
        key_field="subscription_id",
        key="subscription id",
        value="`Alert`",
        flow="alerts -> delivery",
    ),
    TopicSpec(
        "deadletter",
        "cwatch.deadletter.v1",
        partitions=1,
        key_field="original_key",
        key="the failed record's key (none if it had none)",
        value="`DeadLetter` (stage, reason, original bytes)",
        flow="any stage -> operators",
        retention_ms=30 * 24 * 3600 * 1000,
    ),
    TopicSpec(
        "subscriptions",
        "cwatch.subscriptions.v1",
        partitions=1,
        key_field="id",
        key="subscription id",
        value="subscription",
        flow="created, not written yet: subscriptions are kept in Elasticsearch (`AlertStore`)",
        compacted=True,
    ),
)


def topic_spec(role: str) -> TopicSpec:
    for spec in TOPICS:
        if spec.role == role:
            return spec
    raise KeyError(f"unknown topic role {role!r}; known: {[t.role for t in TOPICS]}")


def key_for(role: str, message: object) -> bytes | None:
    """The record key of `message` on the topic of `role`, as that topic declares it: every
    producer keys its records through here."""
    return topic_spec(role).key_of(message)


def topic_table() -> str:
    """The README's topic table (tests/deploy/test_readme.py keeps them in step)."""
    lines = ["| topic | key | value (`schemas/`) | from -> to |", "|---|---|---|---|"]
    for spec in TOPICS:
        name = f"`{spec.base_name}`" + (" (compacted)" if spec.compacted else "")
        lines.append(f"| {name} | {spec.key} | {spec.value} | {spec.flow} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class TopicNames:
    """Concrete topic names for one deployment namespace ("" in production)."""

    namespace: str = ""

    @classmethod
    def for_namespace(cls, namespace: str) -> TopicNames:
        return cls(namespace=namespace)

    def name(self, role: str) -> str:
        spec = self.spec(role)
        return f"{self.namespace}.{spec.base_name}" if self.namespace else spec.base_name

    def spec(self, role: str) -> TopicSpec:
        return topic_spec(role)

    @property
    def raw(self) -> str:
        return self.name("raw")

    @property
    def report(self) -> str:
        return self.name("report")

    @property
    def indexed(self) -> str:
        return self.name("indexed")

    @property
    def alert(self) -> str:
        return self.name("alert")

    @property
    def deadletter(self) -> str:
        return self.name("deadletter")

    @property
    def subscriptions(self) -> str:
        return self.name("subscriptions")

    def all(self) -> list[tuple[str, TopicSpec]]:
        return [(self.name(spec.role), spec) for spec in TOPICS]


def index_alias(namespace: str = "") -> str:
    """The report alias for a namespace; indices behind it are `<alias>-v<mapping>-<yyyy.mm>`."""
    return f"{namespace}-{INDEX_ALIAS}" if namespace else INDEX_ALIAS
