"""`make demo` (`python -m devtools.demo`): the whole system on local Kafka and Elasticsearch, fed a corpus, ready to explore.

Starts the runtime (deploy.local.runtime), every service as a local process, ingests the
generated demo corpus (or DEMO_SOURCE: a folder or a feed URL), waits until the reports are
searchable and prints where to look. `make down` stops everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import AliasChoices, Field

from devtools.supervisor import SERVICE_COMMANDS, Stack, wait_until
from services.common.settings import AuthSettings

REPO = Path(__file__).resolve().parents[1]


class DemoSettings(AuthSettings):
    demo_source: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DEMO_SOURCE", "CWATCH_DEMO_SOURCE"),
        description="Folder or feed URL to ingest instead of the generated corpus",
    )
    demo_count: int = Field(
        default=400, ge=10, description="Generated articles when no DEMO_SOURCE"
    )
    demo_seed: int = Field(default=7, description="Seed of the generated corpus")
    api_port: int = Field(default=8080)
    push_port: int = Field(default=8081)
    run_dir: Path = Field(default=REPO / ".run", description="Where the demo keeps logs and state")


def step(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def run(
    cmd: list[str], env: dict[str, str], quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, text=True, capture_output=quiet)
    if result.returncode != 0:
        detail = (result.stderr or "")[-2000:] if quiet else ""
        raise SystemExit(f"failed: {' '.join(cmd)}\n{detail}")
    return result


def stop_previous(pid_file: Path) -> None:
    """A second `make demo` replaces the first one's services instead of doubling them."""
    if not pid_file.exists():
        return
    for pid in json.loads(pid_file.read_text()).values():
        try:
            os.killpg(int(pid), signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    time.sleep(2)
    pid_file.unlink(missing_ok=True)


def corpus(settings: DemoSettings) -> list[str]:
    if settings.demo_source:
        return [settings.demo_source]
    from services.demo.generator import write_corpus

    folder = settings.run_dir / "demo-corpus-jsonl"
    if not folder.exists() or not any(folder.iterdir()):
        step(f"generating a demo corpus of {settings.demo_count} articles (labelled as generated)")
        # JSON lines carry each outlet's country and affiliation, which the story view sorts
        # versions by; dated this week so that "--since 7d" finds them.
        write_corpus(
            folder,
            count=settings.demo_count,
            seed=settings.demo_seed,
            formats=("jsonl",),
            latest=datetime.now(UTC),
        )
    return [str(folder)]


def searchable_count(settings: DemoSettings, since: datetime) -> int:
    """Reports ingested since `since` that are searchable: a count of the index before and after
    would be thrown by earlier runs (an index migrated to a new mapping meanwhile)."""
    query = {"query": {"range": {"ingested_at": {"gte": since.isoformat()}}}}
    try:
        response = httpx.post(
            f"{settings.elasticsearch_url}/{settings.index_alias}/_count", json=query, timeout=5
        )
        return int(response.json().get("count", 0)) if response.status_code == 200 else 0
    except httpx.HTTPError:
        return 0


def wait_searchable(settings: DemoSettings, stack: Stack, since: datetime, produced: int) -> None:
    """Progress until every produced article is searchable (digests add items) or it settles."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        stack.check_alive()
        count = searchable_count(settings, since)
        if count != last:
            print(f"    {count} of {produced} reports searchable", flush=True)
            last, stable_since = count, time.monotonic()
        elif count >= produced and time.monotonic() - stable_since > 3:
            return
        elif time.monotonic() - stable_since > 30:
            print("    (no progress for 30s; see the service logs)", flush=True)
            return
        time.sleep(1)


def login_link(settings: DemoSettings, api: str) -> str:
    """A one-time login link for the admin the API created on its first start (a new one on
    every `make demo`: the first is in the API's log and may have been used)."""
    from services.common.auth.accounts import FIRST_ADMIN, AccountError, Accounts
    from services.common.auth.store import AccountStore
    from services.common.es import make_es

    accounts = Accounts(AccountStore(make_es(settings), settings.account_prefix()))
    try:
        made = accounts.bootstrap("demo") or accounts.login_link(FIRST_ADMIN, "demo")
    except AccountError:
        return "(no user 'admin': create one with .venv/bin/cwatch users create NAME --role admin)"
    return f"{api}/ui/#login={made.text}"


def demo_env(settings: DemoSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The services' environment: the demo's ports and folders, and no source to poll (the
    demo talks to loopback only; the shipped starter list names real sites) unless the user
    gives a sources file of their own."""
    env = {
        **environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "CWATCH_API_PORT": str(settings.api_port),
        "CWATCH_PUSH_PORT": str(settings.push_port),
        "CWATCH_API_INGESTOR_URL": f"http://127.0.0.1:{settings.push_port}",  # Sources view
        "CWATCH_DATA_DIR": str(settings.run_dir / "extractor"),
        "CWATCH_STATE_PATH": str(settings.run_dir / "ingestor-state.sqlite"),
    }
    if "CWATCH_SOURCES_FILE" not in env:
        quiet_sources = settings.run_dir / "demo-sources.yaml"
        quiet_sources.parent.mkdir(parents=True, exist_ok=True)
        quiet_sources.write_text("sources: []\n")
        env["CWATCH_SOURCES_FILE"] = str(quiet_sources)
    return env


def main() -> int:
    settings = DemoSettings()
    env = demo_env(settings, os.environ)
    started = time.monotonic()
    step("starting Kafka and Elasticsearch (first run downloads them from Maven Central)")
    run([sys.executable, str(REPO / "deploy/local/runtime.py"), "up"], env)
    step("creating the report index template and alias")
    run([sys.executable, "-m", "services.cli", "indexer", "migrate"], env, quiet=True)

    service_dir = settings.run_dir / "services"
    pid_file = service_dir / "pids.json"
    stop_previous(pid_file)
    step(f"starting the services: {', '.join(SERVICE_COMMANDS)} (logs in {service_dir})")
    stack = Stack(service_dir, env).start()
    pid_file.write_text(json.dumps({name: s.pid for name, s in stack.services.items()}))
    api = f"http://127.0.0.1:{settings.api_port}"

    def api_ready() -> bool:
        stack.check_alive()
        try:
            return httpx.get(f"{api}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(api_ready, 120):
        raise SystemExit(f"the API did not come up; see {service_dir}/api.log")

    since = datetime.now(UTC)
    targets = corpus(settings)
    step(f"ingesting {', '.join(targets)}")
    summary = json.loads(
        run(
            [sys.executable, "-m", "services.cli", "ingest", *targets, "--json"], env, quiet=True
        ).stdout
    )
    print(
        f"    produced {summary['produced']}, duplicates {summary['duplicate']}, "
        f"failed {summary['failed']} {summary.get('failed_by_reason') or ''}",
        flush=True,
    )
    if summary["produced"]:
        step("waiting until the reports are searchable")
        wait_searchable(settings, stack, since, summary["produced"])
    else:
        print(
            "    nothing new: this corpus was ingested before (the ingestor remembers)", flush=True
        )

    login = login_link(settings, api)
    step('an example search: cwatch search "ceasefire" --since 7d --size 5')
    subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "search",
            "ceasefire",
            "--since",
            "7d",
            "--size",
            "5",
        ],
        env=env,
    )
    took = time.monotonic() - started
    print(
        f"""
caucasus-watch demo is running ({took:.0f}s to get here).

  Log in          {login}
                  (one-time link for user 'admin', 24 h; then set a password under Account.
                  Another link: .venv/bin/cwatch users login-link admin)
  Web UI          {api}/ui/
  Search API      {api}/v1/search?q=Pashinyan    (OpenAPI: {api}/docs; needs a token:
                  .venv/bin/cwatch tokens create --user admin, then
                  curl -H "Authorization: Bearer cwt_..." ...)
  Push articles   POST http://127.0.0.1:{settings.push_port}/v1/articles  (an editor's token)
  Metrics         {api}/metrics (admins)
  CLI             .venv/bin/cwatch search "Pashinyan Aliyev" --lang ru --since 7d
                  .venv/bin/cwatch subscriptions --help
  Logs            {service_dir}/*.log   (make logs for Kafka and Elasticsearch)
  Stop            make down
""",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
