"""`cwatch demo run`, kept one release after the demo stack moved to devtools/ (`make demo`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.demo import cli

REPO = Path(__file__).resolve().parents[2]


def test_cwatch_demo_run_says_it_is_deprecated_and_starts_the_make_demo_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[list[str], Any]] = []

    def fake_run(argv: list[str], cwd: Any = None) -> subprocess.CompletedProcess[bytes]:
        calls.append((argv, cwd))
        return subprocess.CompletedProcess(argv, 3)

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert cli._run(None) == 3  # type: ignore[arg-type]
    assert calls == [([sys.executable, "-m", "devtools.demo"], REPO)]
    assert "deprecated: use `make demo`" in capsys.readouterr().err
