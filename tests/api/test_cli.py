from __future__ import annotations

import argparse

import pytest

from services import cli
from services.api import cli as api_cli


def _served(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    calls: list[argparse.Namespace] = []
    monkeypatch.setattr(api_cli, "_api_run", lambda args: calls.append(args) or 0)
    return calls


def test_api_run_is_the_one_command_that_starts_the_http_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _served(monkeypatch)
    assert cli.main(["api", "run", "--port", "8099"]) == 0
    assert calls[0].port == 8099 and capsys.readouterr().err == ""


def test_alerts_serve_still_starts_the_api_and_says_it_is_deprecated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _served(monkeypatch)
    assert cli.main(["alerts", "serve", "--host", "0.0.0.0"]) == 0
    assert calls[0].host == "0.0.0.0"
    assert "cwatch alerts serve is deprecated" in capsys.readouterr().err
