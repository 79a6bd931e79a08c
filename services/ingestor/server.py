"""The daemon: pollers and folder watchers in threads, the push API + /healthz + /metrics
served by uvicorn in the main thread."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.auth.authenticator import Authenticator
from services.common.auth.credentials import Kind
from services.common.auth.local import check_local_mode
from services.common.auth.store import AccountStore
from services.common.es import make_es
from services.common.httpguard import (
    BodyLimit,
    CsrfGuard,
    HostAllowList,
    RateLimit,
    RateRule,
    allowed_host_names,
)
from services.common.metrics import serve_metrics
from services.ingestor.app import Ingestor
from services.ingestor.daemons import FolderWatcher, Poller
from services.ingestor.http import SafeHttpClient
from services.ingestor.producer import RawSink
from services.ingestor.push import make_push_router
from services.ingestor.push_guard import PushGuard, PushRefused
from services.ingestor.settings import IngestorSettings
from services.ingestor.sources import SourceEntry, load_sources
from services.ingestor.state import IngestState

log = logging.getLogger(__name__)


# Everything but a push is a GET: a small body is plenty.
OTHER_MAX_BODY_BYTES = 64 * 1024


def install_guards(api: FastAPI, settings: IngestorSettings) -> None:
    """The push server is an HTTP entry point as well: the Host allow-list (a page rebound to
    127.0.0.1 must not push), a foreign Origin refused (no cookies here, so no token), body
    sizes, and a per-client push rate (services/common/httpguard.py)."""
    api.add_middleware(CsrfGuard, require_token=False)
    api.add_middleware(
        BodyLimit,
        limit=OTHER_MAX_BODY_BYTES,
        setting="not configurable: only pushes carry a body",
        # The push route counts its body itself (CWATCH_PUSH_MAX_BODY_BYTES, chunked too) and
        # its 413 tells what to do instead (services/ingestor/push.py).
        overrides={"/v1/articles": None},
    )
    push = RateRule(
        "push", (r"/v1/articles$",), settings.push_rate_limit, "CWATCH_PUSH_RATE_LIMIT",
        methods=frozenset({"POST"}),
    )  # fmt: skip
    api.add_middleware(RateLimit, rules=[push])
    hosts = allowed_host_names(settings.push_allowed_hosts, settings.push_host)
    api.add_middleware(HostAllowList, hosts=hosts, setting="CWATCH_PUSH_ALLOWED_HOSTS")


class Daemon:
    def __init__(
        self, settings: IngestorSettings, entries: list[SourceEntry] | None = None
    ) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.state = IngestState(settings.state_path)
        self.http = SafeHttpClient(settings)
        self.entries = entries if entries is not None else load_sources(settings.sources_file)
        self.started = time.time()

        def worker() -> Ingestor:
            sink = RawSink(settings, self.state, stop=self.stop)
            return Ingestor(settings, self.state, self.http, sink)

        self.push_worker = worker()
        self.poller = Poller(worker(), self.entries, self.stop)
        self.watcher = FolderWatcher(worker(), list(settings.watch_dirs), self.stop)
        self.threads: list[threading.Thread] = []

    def start_workers(self) -> None:
        for name, target in (("poller", self.poller.run), ("watcher", self.watcher.run)):
            thread = threading.Thread(target=target, name=f"ingestor-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def health(self) -> dict[str, Any]:
        workers = {"poller": self.poller.alive, "watcher": self.watcher.alive}
        return {
            "status": "ok" if all(workers.values()) else "degraded",
            "workers": workers,
            "sources": len(self.poller.entries),
            "watch_dirs": [str(d) for d in self.settings.watch_dirs],
            "articles_seen": self.state.seen_count(),
            # a silent or failing source is news for the operator, not a daemon fault
            "flagged_sources": {
                source: row.flagged
                for source, row in self.state.all_health().items()
                if row.flagged
            },
            "uptime_s": round(time.time() - self.started, 1),
        }

    def guard(self) -> PushGuard:
        """Tokens from the shared account store (the API's), sources from the sources file."""
        authenticator = None
        if self.settings.auth_on:
            store = AccountStore(make_es(self.settings), self.settings.account_prefix())
            authenticator = Authenticator(store, self.settings.auth_cache_s)
        return PushGuard(authenticator, lambda: self.entries)

    def app(self) -> FastAPI:
        api = FastAPI(title="cwatch ingestor", version="1")
        guard = self.guard()
        api.include_router(
            make_push_router(self.push_worker, self.settings.push_max_body_bytes, guard)
        )

        @api.get("/healthz")
        def healthz(response: Response) -> dict[str, Any]:
            body = self.health()
            if body["status"] != "ok":
                response.status_code = 503
            return body

        def editor(authorization: str | None) -> None:
            try:
                # an API token, or the web session the API forwards for its source-health view
                guard.principal(authorization, (Kind.TOKEN, Kind.SESSION))
            except PushRefused as exc:
                raise HTTPException(status_code=exc.status, detail=str(exc)) from None

        @api.get("/v1/sources")
        def sources(authorization: Annotated[str | None, Header()] = None) -> list[dict[str, Any]]:
            """Each source's health, as `cwatch sources status --json` shows it (editors)."""
            editor(authorization)
            return [
                {
                    "name": entry.name,
                    "kind": entry.kind.value,
                    "official": entry.official,
                    "enabled": entry.enabled,
                    **asdict(self.poller.health.status(entry.url)),
                }
                for entry in self.entries
            ]

        @api.get("/metrics")
        def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
            """Editors' tokens here; Prometheus scrapes CWATCH_METRICS_PORT (internal)."""
            editor(authorization)
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        install_guards(api, self.settings)
        return api

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        for worker in (self.push_worker, self.poller.ingestor, self.watcher.ingestor):
            worker.close()
        self.http.close()
        self.state.close()

    def serve(self) -> None:
        check_local_mode(self.settings.push_host, self.settings.auth_on)
        # /metrics is also served on the push port.
        serve_metrics(self.settings.metrics_port, self.settings.metrics_host)
        self.start_workers()
        config = uvicorn.Config(
            self.app(),
            host=self.settings.push_host,
            port=self.settings.push_port,
            log_level="warning",
            access_log=False,
        )
        try:
            uvicorn.Server(config).run()
        finally:
            self.shutdown()
