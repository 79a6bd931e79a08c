"""The demo's services talk to loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.demo import DemoSettings, demo_env
from services.ingestor.settings import DEFAULT_SOURCES_FILE
from services.ingestor.sources import load_sources


def test_the_demo_ingestor_polls_no_real_site_unless_given_a_sources_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shipped starter list names real sites (Telegram channels, ministries): the demo's
    # daemon polled them and dead-lettered a DNS failure a second on a machine without network.
    assert load_sources(DEFAULT_SOURCES_FILE), "the starter list this guards against"
    settings = DemoSettings(run_dir=tmp_path)
    env = demo_env(settings, {})
    assert load_sources(Path(env["CWATCH_SOURCES_FILE"])) == []
    mine = tmp_path / "mine.yaml"
    assert demo_env(settings, {"CWATCH_SOURCES_FILE": str(mine)})["CWATCH_SOURCES_FILE"] == str(
        mine
    )
