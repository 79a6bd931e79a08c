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
    """One Kafka topic: its logical role, its base name and its partition count."""

    role: str
    base_name: str
    partitions: int
    retention_ms: int = 7 * 24 * 3600 * 1000
    compacted: bool = False


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("raw", "cwatch.raw.v1", partitions=6),
    TopicSpec("report", "cwatch.report.v1", partitions=6),
    TopicSpec("indexed", "cwatch.indexed.v1", partitions=3),
    TopicSpec("alert", "cwatch.alert.v1", partitions=3),
    TopicSpec(
        "deadletter", "cwatch.deadletter.v1", partitions=1, retention_ms=30 * 24 * 3600 * 1000
    ),
    TopicSpec("subscriptions", "cwatch.subscriptions.v1", partitions=1, compacted=True),
)


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
        for spec in TOPICS:
            if spec.role == role:
                return spec
        raise KeyError(f"unknown topic role {role!r}; known: {[t.role for t in TOPICS]}")

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
