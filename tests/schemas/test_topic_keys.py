"""Each topic's key is declared once, in its TopicSpec, and every producer keys through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.indexed import IndexedEvent
from schemas.raw import RawArticle
from schemas.report import Report
from schemas.topics import TOPICS, TopicSpec, key_for
from services.alerts.models import Subscription

REPO = Path(__file__).resolve().parents[2]
MODELS = {
    "raw": RawArticle,
    "report": Report,
    "indexed": IndexedEvent,
    "alert": Alert,
    "deadletter": DeadLetter,
    "subscriptions": Subscription,
}
# A replayed dead letter goes back to its original topic under its original key, as it was.
# dlq.py replays records under their original keys; the extractor's app.py sends to its own
# one-partition story-stage topic (internal, like its tables' changelogs: no schemas.topics role)
HAND_KEYED = {"services/ops/dlq.py", "services/extractor/app.py"}


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.role)
def test_each_topic_key_is_a_field_of_its_value_model(spec: TopicSpec) -> None:
    assert spec.key_field in MODELS[spec.role].model_fields


def test_an_empty_key_field_gives_a_record_without_key() -> None:
    class Letter:
        original_key = None

    assert key_for("deadletter", Letter()) is None


def test_every_producer_keys_its_records_as_the_topic_declares() -> None:
    hand_picked = []
    for path in sorted((REPO / "services").rglob("*.py")):
        name = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "send":
                continue
            for kw in node.keywords:
                if kw.arg != "key" or name in HAND_KEYED:
                    continue
                value = kw.value
                if not (isinstance(value, ast.Call) and getattr(value.func, "id", "") == "key_for"):
                    hand_picked.append(f"{name}:{node.lineno}")
    assert hand_picked == [], "key records with schemas.topics.key_for"
