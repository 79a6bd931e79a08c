"""`cwatch sources list|add|remove|test|status|import-opml|export-opml`: the sources file
and each source's health, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.common import Affiliation, SourceKind

USAGE_ERROR = 2
KINDS = ["feed", "sitemap", "page", "telegram"]


def register(sub: argparse._SubParsersAction) -> None:
    sources = sub.add_parser("sources", help="list, add, remove, test and check the sources")
    sources.set_defaults(func=lambda args: sources.print_help() or USAGE_ERROR)
    cmds = sources.add_subparsers(dest="sources_command", metavar="COMMAND")

    def with_file(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--sources", type=Path, help="sources YAML (default: the shipped list)")
        return parser

    listing = with_file(cmds.add_parser("list", help="the sources of the sources file"))
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    add = with_file(cmds.add_parser("add", help="add a feed, sitemap, page or Telegram channel"))
    add.add_argument("target", help="URL, or a Telegram channel (name, @name, t.me link)")
    add.add_argument("--kind", choices=KINDS, help="default: telegram for t.me/@names, else feed")
    add.add_argument("--name", help="outlet name (default: the channel or host)")
    add.add_argument("--country", required=True, help="ISO 3166-1 alpha-2")
    add.add_argument("--language", required=True, help="ISO 639-1")
    add.add_argument(
        "--affiliation", choices=[a.value for a in Affiliation], default=Affiliation.UNKNOWN.value
    )
    add.add_argument("--official", action="store_true", help="re-check items for edits/removal")
    add.add_argument("--poll-interval", type=float, help="seconds between polls")
    add.add_argument("--notes", default="")
    add.set_defaults(func=run_add)

    remove = with_file(cmds.add_parser("remove", help="remove sources by name, URL or channel"))
    remove.add_argument("match")
    remove.set_defaults(func=run_remove)

    test = cmds.add_parser(
        "test", help="fetch a URL or channel once and show what it would produce (nothing is sent)"
    )
    test.add_argument("target")
    test.add_argument("--kind", choices=["auto", *KINDS], default="auto")
    test.add_argument("--allow-loopback", action="store_true", help="let the URL reach 127.0.0.1")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=run_test)

    status = with_file(cmds.add_parser("status", help="each source's health"))
    status.add_argument("--state", type=Path, help="state file (default: CWATCH_STATE_PATH)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    imp = with_file(cmds.add_parser("import-opml", help="add the feeds of an OPML file"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--country", help="for outlines that do not say (ISO 3166-1 alpha-2)")
    imp.add_argument("--language", help="for outlines that do not say (ISO 639-1)")
    imp.add_argument(
        "--affiliation", choices=[a.value for a in Affiliation], default=Affiliation.UNKNOWN.value
    )
    imp.set_defaults(func=run_import)

    exp = with_file(cmds.add_parser("export-opml", help="the feeds as OPML 2.0"))
    exp.add_argument("--out", type=Path, help="file (default: stdout)")
    exp.set_defaults(func=run_export)


def _settings(**overrides: Any) -> Any:
    from services.ingestor.settings import IngestorSettings

    return IngestorSettings(**{k: v for k, v in overrides.items() if v is not None})


def _sources_path(args: argparse.Namespace) -> Path:
    return args.sources or _settings().sources_file


def _load(args: argparse.Namespace) -> list[Any] | None:
    from services.ingestor.sources import SourcesFileError, load_sources

    try:
        return load_sources(_sources_path(args))
    except SourcesFileError as exc:
        print(f"cwatch sources: {exc}", file=sys.stderr)
        return None


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    entries = _load(args)
    if entries is None:
        return USAGE_ERROR
    if args.json:
        print(
            json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2)
        )
        return 0
    rows = [
        [
            e.name[:40],
            e.kind.value,
            e.country,
            e.language,
            e.affiliation.value,
            "yes" if e.official else "",
            "" if e.enabled else "off",
            e.url,
        ]
        for e in entries
    ]
    print(_table(rows, ["NAME", "KIND", "CC", "LANG", "AFFILIATION", "OFFICIAL", "", "URL"]))
    return 0


def _telegram_url(target: str) -> str | None:
    from services.ingestor.adapters.telegram import PUBLIC_BASE, channel_from_url, valid_channel

    name = target[1:] if target.startswith("@") else target
    if valid_channel(name):
        return f"{PUBLIC_BASE}/s/{name}"
    if target.startswith(("https://t.me/", "http://t.me/")):
        channel = channel_from_url(target)
        return f"{PUBLIC_BASE}/s/{channel}" if channel else None
    return None


def _entry_from_args(args: argparse.Namespace) -> Any:
    from urllib.parse import urlsplit

    from services.ingestor.sources import SourceEntry

    kind = args.kind
    url = args.target
    telegram = _telegram_url(args.target) if kind in (None, "telegram") else None
    if kind is None:
        kind = "telegram" if telegram else "feed"
    if kind == "telegram" and telegram:
        url = telegram
    name = args.name or (url.rstrip("/").rsplit("/", 1)[-1] if kind == "telegram" else None)
    name = name or urlsplit(url).hostname or url
    return SourceEntry.model_validate(
        {
            "name": name,
            "url": url,
            "kind": kind,
            "country": args.country,
            "language": args.language,
            "affiliation": args.affiliation,
            "official": args.official,
            "poll_interval_s": args.poll_interval,
            "notes": args.notes,
        }
    )


def run_add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from services.ingestor.sources import SourcesFileError, add_sources

    try:
        entry = _entry_from_args(args)
    except (ValidationError, ValueError) as exc:
        print(f"cwatch sources add: {exc}", file=sys.stderr)
        return USAGE_ERROR
    try:
        added = add_sources(_sources_path(args), [entry])
    except SourcesFileError as exc:
        print(f"cwatch sources add: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(f"added: {entry.name} ({entry.url})" if added else f"already there: {entry.url}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from services.ingestor.sources import SourcesFileError, remove_sources

    try:
        removed = remove_sources(_sources_path(args), args.match)
    except SourcesFileError as exc:
        print(f"cwatch sources remove: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not removed:
        print(f"cwatch sources remove: no source named {args.match!r}", file=sys.stderr)
        return 1
    for entry in removed:
        print(f"removed: {entry.name} ({entry.url})")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from services.common.netguard import UnsafeURL, check_url_text
    from services.ingestor.dryrun import dry_run

    target = args.target
    kind = args.kind
    if kind in ("auto", "telegram") and (telegram := _telegram_url(target)):
        target, kind = telegram, "telegram"
    try:
        check_url_text(target)
    except UnsafeURL as exc:
        print(f"cwatch sources test: unusable URL {target[:200]!r}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not target.startswith(("http://", "https://")):
        print("cwatch sources test: give an http(s) URL or a Telegram channel", file=sys.stderr)
        return USAGE_ERROR
    settings = _settings(allow_loopback=True if args.allow_loopback else None)
    result = dry_run(settings, target, kind)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"would produce {len(result['articles'])}, fail {len(result['failures'])}:")
    for article in result["articles"][:50]:
        when = (article.get("published") or "")[:16]
        version = f" v{article['version']}" if article.get("version", 1) > 1 else ""
        print(f"  {when:16}  {(article.get('title') or '')[:90]}{version}")
        print(f"  {'':16}  {article.get('url') or ''}")
    for failure in result["failures"][:20]:
        print(
            f"  FAILED {failure['error_type']}: {failure['source'][:100]}: {failure['reason'][:200]}"
        )
    return 0


def _ago(now: float, value: float | None) -> str:
    if value is None:
        return "never"
    return (
        datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")
        + f" ({_span(now - value)} ago)"
    )


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def source_status_rows(
    settings: Any, entries: list[Any], clock: Any = time.time
) -> list[dict[str, Any]]:
    from services.ingestor.health import SourceHealth
    from services.ingestor.state import IngestState

    state = IngestState(settings.state_path)
    try:
        health = SourceHealth(state, settings, clock=clock)
        rows = []
        for entry in entries:
            status = health.status(entry.url)
            rows.append(
                {
                    "name": entry.name,
                    "url": entry.url,
                    "enabled": entry.enabled,
                    "state": status.state if entry.enabled else "disabled",
                    "last_success": status.last_success,
                    "last_item": status.last_item,
                    "items_per_day": status.items_per_day,
                    "usual_gap_s": status.usual_gap_s,
                    "consecutive_failures": status.consecutive_failures,
                    "last_error": status.last_error,
                }
            )
        return rows
    finally:
        state.close()


def run_status(args: argparse.Namespace) -> int:
    entries = _load(args)
    if entries is None:
        return USAGE_ERROR
    settings = _settings(state_path=args.state)
    now = time.time()
    rows = source_status_rows(settings, entries, clock=lambda: now)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    table = [
        [
            r["name"][:40],
            r["state"],
            _ago(now, r["last_success"]),
            "-" if r["items_per_day"] is None else f"{r['items_per_day']:.1f}",
            _span(r["usual_gap_s"]),
            (
                f"{r['consecutive_failures']}x {r['last_error']}"
                if r["consecutive_failures"]
                else ""
            ),
        ]
        for r in rows
    ]
    print(_table(table, ["SOURCE", "STATE", "LAST SUCCESS", "ITEMS/DAY", "USUAL GAP", "FAILURES"]))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from services.ingestor.opml import OpmlError, read_opml
    from services.ingestor.sources import SourcesFileError, add_sources

    try:
        data = args.file.read_bytes()
        entries, problems = read_opml(
            data,
            country=args.country,
            language=args.language,
            affiliation=Affiliation(args.affiliation),
        )
        added = add_sources(_sources_path(args), entries)
    except (OSError, OpmlError, SourcesFileError) as exc:
        print(f"cwatch sources import-opml: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(
        f"added {len(added)}, already there {len(entries) - len(added)}, unusable {len(problems)}"
    )
    for problem in problems[:50]:
        print(f"  skipped {problem}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from services.ingestor.opml import write_opml

    entries = _load(args)
    if entries is None:
        return USAGE_ERROR
    data = write_opml([e for e in entries if e.kind == SourceKind.FEED])
    if args.out:
        args.out.write_bytes(data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0
