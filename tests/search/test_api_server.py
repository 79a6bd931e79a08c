"""`cwatch api run` serves the API over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def test_api_run_serves_health_openapi_and_search(es_url: str, namespace: str) -> None:
    port = _free_port()
    env = {**os.environ, "ELASTICSEARCH_URL": es_url, "CWATCH_NAMESPACE": namespace}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "run", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/healthz"), timeout_s=30, what="the API to listen")
        assert "/v1/search" in httpx.get(f"{base}/openapi.json").json()["paths"]
        response = httpx.get(f"{base}/v1/search", params={"q": "(unbalanced"})
        assert response.status_code == 400 and "not closed" in response.json()["detail"]
        assert httpx.get(f"{base}/v1/search", params={"q": "x"}).json()["total"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
