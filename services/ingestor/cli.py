"""`cwatch ingest PATH|URL ...` (one shot) and `cwatch ingestor run` (the daemon)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from schemas.common import Affiliation, SourceInfo, SourceKind

USAGE_ERROR = 2


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser(
        "ingest",
        help="read files, folders, feeds, sitemaps or pages once and produce them to Kafka",
        description=(
            "Ingest once. Each target is a file or folder (.html .htm .txt .jsonl .rss .atom "
            ".xml) or an http(s) URL of a feed, news sitemap or page. Progress goes to stderr; "
            "the summary (produced / duplicate / failed with reasons) to stdout."
        ),
    )
    ingest.add_argument("targets", nargs="*", metavar="PATH|URL")
    ingest.add_argument("--url-list", type=Path, help="file with one URL or path per line")
    ingest.add_argument(
        "--kind",
        choices=["auto", "feed", "sitemap", "page", "telegram"],
        default="auto",
        help="for URLs (telegram: a channel's https://t.me/s/<channel> preview)",
    )
    ingest.add_argument("--source-name", help="outlet name recorded with every article")
    ingest.add_argument("--country", help="outlet country, ISO 3166-1 alpha-2")
    ingest.add_argument("--language", help="outlet language, ISO 639-1")
    ingest.add_argument(
        "--affiliation", choices=[a.value for a in Affiliation], default=Affiliation.UNKNOWN.value
    )
    ingest.add_argument("--force", action="store_true", help="re-read files even if unchanged")
    ingest.add_argument("--state", type=Path, help="state file (default: CWATCH_STATE_PATH)")
    ingest.add_argument("--namespace", help="topic namespace (default: CWATCH_NAMESPACE)")
    ingest.add_argument(
        "--allow-loopback", action="store_true", help="let URLs reach 127.0.0.1 (testing)"
    )
    ingest.add_argument("--no-linked-pages", action="store_true", help="never fetch item pages")
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.set_defaults(func=run_ingest)

    daemon = sub.add_parser("ingestor", help="the ingestor daemon")
    daemon_sub = daemon.add_subparsers(dest="ingestor_command", metavar="COMMAND")
    run = daemon_sub.add_parser(
        "run",
        help="poll the sources file, watch folders, serve POST /v1/articles, /healthz, /metrics",
    )
    run.add_argument("--sources", type=Path, help="sources YAML (default: the shipped list)")
    run.add_argument("--watch", type=Path, action="append", default=[], help="folder to watch")
    run.add_argument("--host", help="push API host (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="push API port (default 8081)")
    run.add_argument("--state", type=Path)
    run.add_argument("--namespace")
    run.set_defaults(func=run_daemon)
    daemon.set_defaults(func=lambda args: daemon.print_help() or USAGE_ERROR)

    from services.ingestor import sources_cli

    sources_cli.register(sub)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from services.ingestor.settings import IngestorSettings

    overrides: dict[str, Any] = dict(extra)
    if getattr(args, "state", None):
        overrides["state_path"] = args.state
    if getattr(args, "namespace", None) is not None:
        overrides["namespace"] = args.namespace
    return IngestorSettings(**overrides)


class Progress:
    """One status line on stderr, redrawn in place on a terminal, else a line every 5 s."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, summary: Any, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        rate = summary.produced / max(now - self.started, 1e-6)
        line = (
            f"produced {summary.produced}  duplicate {summary.duplicate}  "
            f"failed {summary.failed}  ({rate:.0f}/s)"
        )
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        if final and self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _targets(args: argparse.Namespace) -> list[str] | None:
    targets = list(args.targets)
    if args.url_list:
        try:
            lines = args.url_list.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"cwatch ingest: cannot read --url-list: {exc}", file=sys.stderr)
            return None
        targets += [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    if not targets:
        print("cwatch ingest: give at least one PATH or URL", file=sys.stderr)
        return None
    from services.common.netguard import UnsafeURL, check_url_text

    for target in targets:
        if target.startswith(("http://", "https://")):
            try:
                check_url_text(target)
            except UnsafeURL as exc:
                print(f"cwatch ingest: unusable URL {target[:200]!r}: {exc}", file=sys.stderr)
                return None
        elif not Path(target).exists():
            print(f"cwatch ingest: no such file, folder or http(s) URL: {target}", file=sys.stderr)
            return None
    return targets


def run_ingest(args: argparse.Namespace) -> int:
    targets = _targets(args)
    if targets is None:
        return USAGE_ERROR
    from services.common.logs import setup_logging
    from services.ingestor.app import Ingestor
    from services.ingestor.state import IngestState

    extra: dict[str, Any] = {}
    if args.allow_loopback:
        extra["allow_loopback"] = True
    if args.no_linked_pages:
        extra["fetch_linked_pages"] = False
    settings = _settings(args, **extra)
    setup_logging(
        settings.log_level if settings.log_level != "INFO" else "WARNING", settings.log_json
    )
    try:
        source = _source(args)
    except ValueError as exc:
        print(f"cwatch ingest: {exc}", file=sys.stderr)
        return USAGE_ERROR
    progress = Progress()
    state = IngestState(settings.state_path)
    ingestor = Ingestor(settings, state, progress=progress)
    try:
        for target in targets:
            if target.startswith(("http://", "https://")):
                src = source.model_copy(update={"url": target}) if source else None
                ingestor.ingest_url(target, src, kind=args.kind)
            else:
                src = source.model_copy(update={"kind": SourceKind.FILE}) if source else None
                ingestor.ingest_path(Path(target), src, only_changed=not args.force)
        ingestor.flush()
    finally:
        progress(ingestor.summary, final=True)
        ingestor.close()
        ingestor.http.close()
        state.close()
    _print_summary(ingestor.summary.as_dict(), args.json)
    return 0


def _source(args: argparse.Namespace) -> SourceInfo | None:
    if not (args.source_name or args.country or args.language):
        return None
    kinds = {
        "feed": SourceKind.FEED,
        "sitemap": SourceKind.SITEMAP,
        "telegram": SourceKind.TELEGRAM,
    }
    kind = kinds.get(args.kind, SourceKind.PAGE)
    return SourceInfo(
        name=args.source_name or "cli",
        kind=kind,
        country=args.country.upper() if args.country else None,
        language=args.language,
        affiliation=Affiliation(args.affiliation),
    )


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    print(
        f"produced: {summary['produced']}  duplicate: {summary['duplicate']}  "
        f"failed: {summary['failed']}  unchanged files: {summary['unchanged_files']}"
    )
    for reason, count in sorted(summary["failed_by_reason"].items(), key=lambda kv: -kv[1]):
        print(f"  failed {count:>6}  {reason}")
    for failure in summary["failures"][:20]:
        print(f"    {failure['source']}: {failure['reason'][:200]}")


def run_daemon(args: argparse.Namespace) -> int:
    from services.common.logs import setup_logging
    from services.ingestor.server import Daemon
    from services.ingestor.sources import SourcesFileError

    overrides: dict[str, Any] = {}
    if args.sources:
        overrides["sources_file"] = args.sources
    if args.watch:
        overrides["watch_dirs"] = args.watch
    if args.host:
        overrides["push_host"] = args.host
    if args.port:
        overrides["push_port"] = args.port
    settings = _settings(args, **overrides)
    setup_logging(settings.log_level, settings.log_json)
    try:
        daemon = Daemon(settings)
    except SourcesFileError as exc:
        print(f"cwatch ingestor run: {exc}", file=sys.stderr)
        return USAGE_ERROR
    daemon.serve()
    return 0
