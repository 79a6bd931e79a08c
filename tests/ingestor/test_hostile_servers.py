"""Hostile servers on loopback: one total deadline per fetch covers the status line, the
headers and robots.txt, however slowly a server trickles them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.ingestor.http import FetchError, SafeHttpClient
from services.ingestor.settings import IngestorSettings
from tests.ingestor.loopback import LoopbackServer

pytestmark = pytest.mark.integration  # opens loopback sockets; no Kafka needed


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


def _client(tmp_path: Path, total_s: float, robots: bool = False) -> SafeHttpClient:
    return SafeHttpClient(
        IngestorSettings(
            state_path=tmp_path / "state.sqlite",
            allow_loopback=True,
            respect_robots=robots,
            http_total_timeout_s=total_s,
            http_read_timeout_s=5.0,
            http_per_host_min_interval_s=0.0,
        )
    )


def test_trickled_status_line_and_headers_stop_at_the_total_deadline(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = server.add("/slow", "<html><title>x</title></html>", trickle_s=0.5)
    client = _client(tmp_path, total_s=1.5)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as info:
            client.get(url)
    finally:
        client.close()
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 4.0  # the response takes > 40 s to trickle out


def test_trickled_robots_txt_counts_against_the_same_deadline(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain", trickle_s=0.5)
    url = server.add("/page", "<html><title>x</title></html>")
    client = _client(tmp_path, total_s=1.5, robots=True)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as info:
            client.get(url)
    finally:
        client.close()
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 4.0


def test_a_prompt_server_is_still_read_normally(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.add("/page", "<html><title>x</title></html>")
    client = _client(tmp_path, total_s=5.0, robots=True)
    try:
        assert client.get(url).body == b"<html><title>x</title></html>"
    finally:
        client.close()
