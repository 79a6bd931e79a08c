"""`cwatch export QUERY --format csv|jsonl|geojson|acled --out FILE`: every report a search
matches, streamed to a file (or stdout) with progress on stderr.

The file is written as `FILE.part` and renamed when the export ends, so a file under its name is
never half-written. Exit status: 0 every match exported; 3 written but cut by --max-rows or
--time-budget-s (the last line on stderr says which); 2 a bad query or option; 1 Elasticsearch
failed (the partial file is removed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

EXIT_CUT = 3


class Progress:
    """At most one progress line a second on stderr (rewritten in place on a terminal)."""

    def __init__(self, stream: IO[str], quiet: bool = False) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def line(self, export: Any) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        share = f" ({100 * export.read / export.expected:.0f}%)" if export.expected else ""
        return (
            f"exported {export.read:,} of {export.expected:,} reports{share}, "
            f"{export.encoder.rows:,} rows, {export.read / elapsed:,.0f} reports/s"
        )

    def __call__(self, export: Any, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < 1.0):
            return
        self.last = now
        end = "\n" if final or not self.tty else ""
        self.stream.write(("\r" if self.tty else "") + self.line(export) + end)
        self.stream.flush()


def _export(args: argparse.Namespace) -> int:
    from elasticsearch import ApiError, TransportError

    from services.common.es import make_es
    from services.query.exports import FORMATS
    from services.query.syntax import QueryError
    from services.search.cli import params_from_args
    from services.search.export import Export, ExportIncomplete, ExportLimits
    from services.search.settings import SearchSettings

    def fail(message: str, code: int) -> int:
        print(f"cwatch export: {message}", file=sys.stderr)
        return code

    if args.format not in FORMATS:
        return fail(f"--format {args.format!r} is unknown; use one of: {', '.join(FORMATS)}", 2)
    settings = SearchSettings()
    limits = ExportLimits(
        max_rows=args.max_rows or settings.export_max_rows,
        time_budget_s=(
            args.time_budget_s if args.time_budget_s is not None else settings.export_time_budget_s
        ),
    )
    if limits.max_rows < 1 or limits.time_budget_s < 0:
        return fail("--max-rows must be at least 1 and --time-budget-s at least 0", 2)
    to_stdout = args.out == "-"
    target = Path(args.out)
    part = target.with_name(target.name + ".part")
    if not to_stdout and not target.parent.is_dir():
        return fail(f"--out {args.out}: folder {target.parent} does not exist", 2)
    progress = Progress(sys.stderr, quiet=args.quiet)
    try:
        job = Export(
            make_es(settings),
            settings.index_alias,
            params_from_args(args),
            args.format,
            limits,
            on_page=progress,
        ).open()
    except QueryError as exc:
        return fail(str(exc), 2)
    except ApiError as exc:
        return fail(f"Elasticsearch refused the export: {exc.message}", 1)
    except TransportError as exc:
        return fail(f"Elasticsearch unreachable ({exc})", 1)
    except ExportIncomplete as exc:
        return fail(str(exc), 1)
    if not args.quiet:
        print(
            f"cwatch export: {job.total:,} reports match; exporting {job.expected:,} as "
            f"{job.format.name} ({limits.describe()}) to {'stdout' if to_stdout else target}",
            file=sys.stderr,
        )
    try:
        out: IO[str]
        with contextlib.ExitStack() as stack:
            if to_stdout:
                out = sys.stdout
            else:
                out = stack.enter_context(
                    part.open("w", encoding="utf-8", errors="replace", newline="")
                )
            for chunk in job.chunks():
                out.write(chunk)
            out.flush()
        if not to_stdout:
            os.replace(part, target)
    except (ApiError, TransportError, ExportIncomplete, OSError) as exc:
        job.close()
        with contextlib.suppress(OSError):
            part.unlink()
        what = exc.message if isinstance(exc, ApiError) else str(exc)
        return fail(f"export failed after {job.read:,} reports: {what}; no file written", 1)
    progress(job, final=True)
    if job.stopped == "max_rows":
        return fail(
            f"stopped at --max-rows {limits.max_rows:,}: {job.total - job.read:,} more reports "
            "match; raise --max-rows or narrow the search",
            EXIT_CUT,
        )
    if job.stopped == "time_budget":
        return fail(
            f"stopped after {limits.time_budget_s:g} s (--time-budget-s) with {job.read:,} of "
            f"{job.expected:,} reports; the file holds those",
            EXIT_CUT,
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from services.search.cli import add_filter_arguments

    export = sub.add_parser(
        "export",
        help="Export every report a search matches (CSV, JSON Lines, GeoJSON, ACLED-shaped CSV)",
        description="Streams every match of the search to a file, newest first, in bounded "
        "memory, with progress on stderr. Exit status 3: written, but cut by a limit.",
    )
    export.add_argument("query", nargs="*", help="Search text (empty: every report)")
    add_filter_arguments(export)
    export.add_argument(
        "--format", default="csv", help="csv, jsonl, geojson or acled (default csv)"
    )
    export.add_argument("--out", default="-", help="File to write (default: stdout)")
    export.add_argument(
        "--max-rows", type=int, default=None, help="Reports at most (CWATCH_EXPORT_MAX_ROWS)"
    )
    export.add_argument(
        "--time-budget-s",
        type=float,
        default=None,
        help="Read no page after this long, 0 = no limit (CWATCH_EXPORT_TIME_BUDGET_S)",
    )
    export.add_argument("--quiet", action="store_true", help="No progress on stderr")
    export.set_defaults(func=_export)
