"""`cwatch users` and `cwatch tokens` against the real store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.cli import main
from services.common.auth.authenticator import Authenticator
from services.common.auth.credentials import Kind
from services.common.auth.store import AccountStore
from services.common.settings import AuthSettings

pytestmark = pytest.mark.integration


def test_users_and_tokens_from_the_command_line(
    es_url: str,
    es_client: Any,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", es_url)
    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    store = AccountStore(es_client, AuthSettings(namespace=namespace).account_prefix())
    check = Authenticator(store, ttl_s=0)

    assert main(["users", "create", "erin", "--role", "editor"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["role"] == "editor" and "/ui/#login=cwl_" in created["login_link"]
    assert main(["users", "create", "erin"]) == 1  # exists

    assert main(["tokens", "create", "--user", "erin", "--label", "feed reader", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)
    principal = check.principal(token["token"], (Kind.TOKEN,))
    assert principal is not None and principal.user == "erin"
    assert main(["tokens", "list", "--user", "erin"]) == 0
    listed = capsys.readouterr().out
    assert token["id"] in listed and token["token"] not in listed  # shown once only

    assert main(["tokens", "revoke", token["id"]]) == 0
    assert check.principal(token["token"], (Kind.TOKEN,)) is None
    capsys.readouterr()

    fresh = main(["tokens", "create", "--user", "erin", "--json"])
    other = json.loads(capsys.readouterr().out)["token"]
    assert fresh == 0 and check.principal(other, (Kind.TOKEN,)) is not None
    assert main(["users", "disable", "erin"]) == 0
    assert check.principal(other, (Kind.TOKEN,)) is None
    actions = {e["action"] for e in store.audit_entries(target="erin")}
    assert {"user.create", "token.create", "token.revoke", "user.update"} <= actions
