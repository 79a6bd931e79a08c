"""`cwatch search QUERY ...` (a readable table, or --json). The HTTP API: services/api/cli.py."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any


def _clip(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def format_table(result: dict[str, Any], width: int = 120) -> str:
    """Date, language, source, headline (with version count when collapsed), one line each."""
    rows = []
    for hit in result["hits"]:
        date = (hit.get("date") or "")[:16].replace("T", " ")
        source = (hit.get("source") or {}).get("name", "")
        versions = f" [{hit['versions']} versions]" if hit.get("versions", 1) > 1 else ""
        rows.append(
            (date, hit.get("language") or "", source, (hit.get("headline") or "") + versions)
        )
    head = ("DATE (UTC)", "LANG", "SOURCE", "HEADLINE")
    src_w = min(24, max([len(head[2])] + [len(r[2]) for r in rows]))
    fixed = 16 + 2 + 4 + 2 + src_w + 2
    lines = [f"{head[0]:<16}  {head[1]:<4}  {head[2]:<{src_w}}  {head[3]}"]
    for date, lang, source, headline in rows:
        lines.append(
            f"{date:<16}  {lang:<4}  {_clip(source, src_w):<{src_w}}  "
            f"{_clip(headline, max(20, width - fixed))}"
        )
    relation = "+" if result.get("total_relation") == "gte" else ""
    footer = f"{len(rows)} shown of {result['total']}{relation} reports"
    if result.get("next_cursor"):
        footer += f"; next page: --cursor {result['next_cursor']}"
    lines.append(footer)
    return "\n".join(lines)


def _search(args: argparse.Namespace) -> int:
    from elasticsearch import TransportError

    from services.common.es import make_es
    from services.query.syntax import QueryError
    from services.search.service import SearchService
    from services.search.settings import SearchSettings

    settings = SearchSettings()
    params = params_from_args(args)
    params.sort, params.size, params.cursor = args.sort, args.size, args.cursor
    params.collapse, params.facets, params.highlight = args.collapse, args.facets, False
    service = SearchService(make_es(settings), settings.index_alias)
    try:
        result = service.search(params)
    except QueryError as exc:
        print(f"cwatch search: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"cwatch search: Elasticsearch unreachable ({exc})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_table(result, shutil.get_terminal_size((120, 20)).columns))
        for name, buckets in (result.get("facets") or {}).items():
            if buckets:
                print(f"{name}: " + ", ".join(f"{b['value']} ({b['count']})" for b in buckets))
    return 0


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The search filters as flags (`cwatch search` and `cwatch export`)."""
    for flag, what in (
        ("--lang", "Language code"),
        ("--source", "Source name"),
        ("--country", "Source country, ISO alpha-2"),
        ("--affiliation", "Source affiliation"),
        ("--entity", "Entity id, e.g. person:nikol-pashinyan; all given must be mentioned"),
        ("--event", "Event type (ceasefire, armed_clash, ...)"),
        ("--figure", "Figure kind (killed, displaced, ...)"),
        ("--change", "Statement history: edited, withdrawn"),
    ):
        parser.add_argument(flag, action="append", default=[], help=f"{what} (repeatable)")
    parser.add_argument("--since", help="7d, 24h, 30m or an ISO date")
    parser.add_argument("--until", help="7d, 24h, 30m or an ISO date")
    parser.add_argument("--relevant", action="store_true", help="Only conflict-relevant reports")


def params_from_args(args: argparse.Namespace) -> Any:
    """The SearchParams of the query words and filter flags (`add_filter_arguments`)."""
    from services.query.params import SearchParams

    return SearchParams(
        q=" ".join(args.query),
        languages=args.lang,
        sources=args.source,
        countries=args.country,
        affiliations=args.affiliation,
        entities=args.entity,
        event_types=args.event,
        figure_kinds=args.figure,
        since=args.since,
        until=args.until,
        relevant=True if args.relevant else None,
        changes=args.change,
    )


def register(sub: argparse._SubParsersAction) -> None:
    search = sub.add_parser(
        "search",
        help="Search indexed reports",
        description='Query syntax: words, "phrases", prefix*, AND / OR / NOT, (groups). '
        "Any script matches any other: Pashinyan finds Пашинян and Փաշինյան.",
    )
    search.add_argument("query", nargs="*", help="Search text (empty: everything, newest first)")
    add_filter_arguments(search)
    search.add_argument("--sort", choices=["relevance", "time"], default=None)
    search.add_argument("--size", type=int, default=20)
    search.add_argument("--cursor", help="Next page: the cursor printed under the previous one")
    search.add_argument("--collapse", action="store_true", help="One line per story")
    search.add_argument("--facets", action="store_true", help="Also print counts per value")
    search.add_argument("--json", action="store_true", help="Machine-readable output")
    search.set_defaults(func=_search_entry)

    from services.search import export_cli

    export_cli.register(sub)


def _search_entry(args: argparse.Namespace) -> int:
    if args.sort is None:  # without words, relevance means nothing: newest first
        args.sort = "relevance" if args.query else "time"
    return _search(args)
