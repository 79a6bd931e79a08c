"""Every stage stopped by its dead-letter cap exits with the same status (70), not a traceback
and 1 that reads like any crash: a supervisor restarts it, an operator knows why."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from services.common.dlq import EXIT_TOO_MANY_DEAD_LETTERS, TooManyDeadLetters


class Tripping:
    """A stage whose run loop trips the cap at once."""

    def __init__(self, settings: Any) -> None:
        self.stopping = self

    def set(self) -> None:
        pass

    def run(self) -> None:
        raise TooManyDeadLetters("0.9 of the last 100 records dead-lettered (limit 0.5)")


class CrashingAlerts(Tripping):
    crashed: BaseException | None = None

    def run(self) -> None:  # as AlertsService.run: a loop died, run raises from its cause
        try:
            super().run()
        except TooManyDeadLetters as exc:
            raise RuntimeError("the alerts service stopped after a crash") from exc


def test_the_indexer_exits_70_when_its_dead_letter_cap_trips(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.indexer import app, cli

    monkeypatch.setenv("CWATCH_METRICS_PORT", "0")
    monkeypatch.setattr(app, "Indexer", Tripping)
    assert cli._run(argparse.Namespace()) == EXIT_TOO_MANY_DEAD_LETTERS == 70
    assert "limit 0.5" in capsys.readouterr().err


def test_the_alerts_service_exits_70_when_its_dead_letter_cap_trips(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.alerts import app, cli

    monkeypatch.setenv("CWATCH_METRICS_PORT", "0")
    monkeypatch.setattr(app, "AlertsService", CrashingAlerts)
    assert cli._run(argparse.Namespace()) == EXIT_TOO_MANY_DEAD_LETTERS
    assert "limit 0.5" in capsys.readouterr().err


def test_another_alerts_crash_still_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.alerts import app, cli

    class Crashing(Tripping):
        def run(self) -> None:
            raise RuntimeError("the alerts service stopped after a crash") from OSError("disk")

    monkeypatch.setenv("CWATCH_METRICS_PORT", "0")
    monkeypatch.setattr(app, "AlertsService", Crashing)
    assert cli._run(argparse.Namespace()) == 1
