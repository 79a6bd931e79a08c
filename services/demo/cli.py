"""`cwatch demo generate | run`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path


def parse_latest(value: str, now: datetime | None = None) -> datetime:
    """'now', or an ISO date/time (UTC when no offset is given)."""
    if value.strip().lower() == "now":
        return now or datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--latest wants 'now' or an ISO date/time, not {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _generate(args: argparse.Namespace) -> int:
    from services.demo.writers import parse_formats, write_corpus

    try:
        formats = parse_formats(args.formats)
    except ValueError as exc:
        print(f"cwatch demo generate: {exc}", file=sys.stderr)
        return 2
    if args.count < 1:
        print("cwatch demo generate: --count must be at least 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        print(
            f"cwatch demo generate: {out} is not empty (use --force to write into it)",
            file=sys.stderr,
        )
        return 2

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  {done}/{total} articles", file=sys.stderr, flush=True)

    print(
        f"generating {args.count} demo articles (seed {args.seed}, {', '.join(formats)}) in {out}",
        file=sys.stderr,
    )
    latest = None
    if args.latest:
        try:
            latest = parse_latest(args.latest)
        except ValueError as exc:
            print(f"cwatch demo generate: {exc}", file=sys.stderr)
            return 2
    summary = write_corpus(out, args.count, args.seed, formats, progress=progress, latest=latest)
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
        return 0
    info = summary.as_dict()
    files = ", ".join(f"{n} {kind}" for kind, n in info["files"].items())
    langs = ", ".join(f"{lang} {n}" for lang, n in info["languages"].items())
    print(
        f"wrote {info['articles']} articles ({info['relevant']} relevant, "
        f"{info['irrelevant']} irrelevant, {info['near_duplicates']} near-duplicates) "
        f"in {info['stories']} stories from {info['outlets']} outlets in {info['seconds']}s\n"
        f"  files: {files}\n  languages: {langs}\n"
        f"  ground truth: {out / 'manifest.json'}\n"
        "  every article is labelled [generated demo]; none reports real events"
    )
    return 0


def _push(args: argparse.Namespace) -> int:
    import httpx

    from services.demo.push import PushSummary, push

    def progress(summary: PushSummary) -> None:
        if not args.quiet and summary.sent % max(1, int(args.rate * 10)) < args.batch:
            print(
                f"  sent {summary.sent}/{args.count}: {summary.accepted} accepted, "
                f"{summary.duplicates} duplicates, {summary.rejected} rejected",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"pushing {args.count} generated articles to {args.url} at {args.rate}/s "
        f"(seed {args.seed}; every article is labelled [generated demo])",
        file=sys.stderr,
    )
    try:
        token = args.token
        client = httpx.Client(
            timeout=30, headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        summary = push(
            args.url, args.count, args.seed, args.rate, args.batch, client=client, progress=progress
        )
    except ValueError as exc:
        print(f"cwatch demo push: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict()))
    if summary.errors:
        print(f"cwatch demo push: could not reach {args.url}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    """Kept for one release: the demo stack is a developer tool of the clone (devtools/demo.py,
    `make demo`), not part of the installed package, so this only starts it as a process."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    print(
        "cwatch demo run is deprecated: use `make demo` (python -m devtools.demo)", file=sys.stderr
    )
    if not (repo / "devtools" / "demo.py").is_file():
        print("cwatch demo run: needs a clone of the repository (`make demo`)", file=sys.stderr)
        return 2
    return subprocess.run([sys.executable, "-m", "devtools.demo"], cwd=repo).returncode


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="Generated demo corpus and the one-command demo")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    gen = demo_sub.add_parser(
        "generate",
        help="Write a realistic, multilingual, clearly labelled generated news corpus",
        description=(
            "Deterministic: the same --seed and --count always give the same files. "
            "Outlets are invented and live on .example domains."
        ),
    )
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--count", type=int, default=1000, help="articles (default 1000)")
    gen.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    gen.add_argument(
        "--formats",
        default="html,txt,jsonl,rss",
        help="comma-separated subset of html,txt,jsonl,rss (default: all)",
    )
    gen.add_argument(
        "--latest",
        help="move the corpus in time so its newest article is published then: 'now' or an "
        "ISO date/time (default: a fixed start, identical files every run)",
    )
    gen.add_argument("--force", action="store_true", help="write into a non-empty folder")
    gen.add_argument("--quiet", action="store_true", help="no progress lines")
    gen.add_argument("--json", action="store_true", help="print the summary as JSON")
    gen.set_defaults(func=_generate)
    live = demo_sub.add_parser(
        "push",
        help="Post generated articles to the push API at a steady rate (live feed, alerts)",
    )
    live.add_argument(
        "--url",
        default="http://127.0.0.1:8081/v1/articles",
        help="push endpoint (default http://127.0.0.1:8081/v1/articles)",
    )
    live.add_argument("--count", type=int, default=100, help="articles (default 100)")
    live.add_argument("--rate", type=float, default=1.0, help="articles per second (default 1)")
    live.add_argument("--batch", type=int, default=1, help="articles per request (default 1)")
    live.add_argument(
        "--seed", type=int, default=1007, help="seed; a new one gives news not yet seen"
    )
    live.add_argument("--quiet", action="store_true", help="no progress lines")
    live.add_argument(
        "--token",
        default=None,
        help="an editor's API token (`cwatch tokens create --user NAME`)",
    )
    live.set_defaults(func=_push)
    run = demo_sub.add_parser(
        "run",
        help="Deprecated, use `make demo`: start everything locally, ingest, print where to look",
    )
    run.set_defaults(func=_run)
