"""`cwatch subscriptions ...` against the real Elasticsearch."""

from __future__ import annotations

import json

import pytest

from services.cli import main

pytestmark = pytest.mark.integration


def test_cli_creates_lists_updates_pauses_resumes_and_deletes(
    monkeypatch, capsys, namespace: str, es_client
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    code = main(
        [
            "subscriptions",
            "create",
            "ceasefire OR shelling",
            "--name",
            "front",
            "--lang",
            "en,ru",
            "--event",
            "shelling_strike",
            "--mode",
            "every",
            "--owner",
            "alice",
        ]
    )
    assert code == 0
    created = json.loads(capsys.readouterr().out)
    sid = created["id"]
    assert created["filters"]["lang"] == ["en", "ru"] and created["mode"] == "every"
    assert created["owner"] == "alice"

    assert main(["subscriptions", "list"]) == 0
    assert sid in capsys.readouterr().out
    assert main(["subscriptions", "list", "--owner", "bob"]) == 0
    assert sid not in capsys.readouterr().out
    assert main(["subscriptions", "update", sid, "--query", "Shusha", "--mode", "digest"]) == 0
    updated = json.loads(capsys.readouterr().out)
    assert updated["query"] == "Shusha" and updated["mode"] == "digest"
    assert main(["subscriptions", "pause", sid]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is False
    assert main(["subscriptions", "list", "--active"]) == 0
    assert sid not in capsys.readouterr().out
    assert main(["subscriptions", "resume", sid]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is True
    assert main(["subscriptions", "delete", sid]) == 0
    assert main(["subscriptions", "delete", sid]) == 1


def test_cli_refuses_a_bad_query_and_an_internal_webhook(
    monkeypatch, capsys, namespace: str, es_client
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    assert main(["subscriptions", "create", "(ceasefire"]) == 2
    assert "parenthesis" in capsys.readouterr().err
    assert main(["subscriptions", "create", "x", "--webhook", "http://169.254.169.254/x"]) == 2
    assert "metadata" in capsys.readouterr().err
