"""`cwatch api run` serves the API over HTTP."""

from __future__ import annotations

import os
import re
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


def test_api_run_serves_health_openapi_and_search(
    es_url: str, namespace: str, tmp_path: Path
) -> None:
    """The first start on an empty store creates the admin and prints a one-time login link;
    without a credential nothing but health answers; the link logs in once."""
    port = _free_port()
    env = {**os.environ, "ELASTICSEARCH_URL": es_url, "CWATCH_NAMESPACE": namespace}
    stderr = tmp_path / "api.err"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "api", "run", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/healthz"), timeout_s=30, what="the API to listen")
        assert httpx.get(f"{base}/openapi.json").status_code == 401
        assert httpx.get(f"{base}/v1/search", params={"q": "x"}).status_code == 401
        [(address, link)] = re.findall(r"(http://\S+)/ui/#login=(cwl_\S+)", stderr.read_text())
        assert address == base  # the printed link opens this server
        with httpx.Client(base_url=base) as browser:
            assert browser.post("/v1/auth/login", json={"link": link}).status_code == 200
            assert "/v1/search" in browser.get("/openapi.json").json()["paths"]
            response = browser.get("/v1/search", params={"q": "(unbalanced"})
            assert response.status_code == 400 and "not closed" in response.json()["detail"]
            assert browser.get("/v1/search", params={"q": "x"}).json()["total"] == 0
        assert httpx.post(f"{base}/v1/auth/login", json={"link": link}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_api_run_without_accounts_refuses_a_public_address(es_url: str) -> None:
    env = {**os.environ, "ELASTICSEARCH_URL": es_url, "CWATCH_API_AUTH": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "api", "run", "--host", "0.0.0.0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "refusing to listen on 0.0.0.0" in done.stderr
