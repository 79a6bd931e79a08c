"""`cwatch dlq replay` is written to the audit log admins query (GET /v1/audit)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.deadletter import DeadLetter, Stage
from schemas.topics import TopicNames
from services.cli import main
from services.common.auth.store import AccountStore
from services.common.kafka import make_producer
from services.common.settings import AuthSettings

pytestmark = pytest.mark.integration


def test_a_replay_is_in_the_audit_log(
    kafka_bootstrap: str,
    es_url: str,
    es_client: Any,
    topics: TopicNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="test")
    letter = DeadLetter.of(Stage.EXTRACT, "fixed", b"original", original_topic=topics.raw)
    producer.send(topics.deadletter, value=letter.model_dump_json().encode())
    producer.flush(30)
    producer.close()
    for name, value in (
        ("CWATCH_NAMESPACE", topics.namespace),
        ("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap),
        ("ELASTICSEARCH_URL", es_url),
    ):
        monkeypatch.setenv(name, value)
    assert main(["dlq", "replay", "--stage", "extract"]) == 0
    store = AccountStore(es_client, AuthSettings(namespace=topics.namespace).account_prefix())
    [entry] = store.audit_entries(action="dlq.replay")
    assert entry["actor"].startswith("cli") and entry["target"] == "extract"
    assert entry["detail"]["replayed"] == 1
