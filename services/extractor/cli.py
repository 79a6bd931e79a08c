"""`cwatch extractor run` (the worker) and `cwatch extract FILE` (the pipeline, offline)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.common.charset import BinaryContent, decode_text
from services.common.logs import setup_logging
from services.extractor.settings import ExtractorSettings


def _run(args: argparse.Namespace) -> int:
    settings = ExtractorSettings()
    setup_logging(settings.log_level, settings.log_json)
    from services.extractor.app import run_worker

    return run_worker(settings)


def raw_from_file(path: Path, title: str | None = None) -> RawArticle:
    """A local .html/.htm/.txt file (or a RawArticle .json) as a raw article, decoded like the
    ingestor decodes a page (raises BinaryContent on a file that is not text)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return RawArticle.model_validate_json(data)
    # As the ingestor reads a fetched page: BOM, <meta charset>, UTF-8, then cp1251/cp1252.
    text, _ = decode_text(data)
    is_html = path.suffix.lower() in {".html", ".htm"} or text.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    )
    return RawArticle(
        article_id="file-" + hashlib.sha256(data).hexdigest()[:24],
        url=path.resolve().as_uri(),
        source=SourceInfo(name=path.name, kind=SourceKind.FILE),
        title=title,
        html=text if is_html else None,
        text=None if is_html else text,
        ingested_at=datetime.now(UTC),
    )


def _extract(args: argparse.Namespace) -> int:
    from services.extractor.dedup import DedupState
    from services.extractor.pipeline import ExtractorConfig, extract

    settings = ExtractorSettings()
    config = ExtractorConfig.from_settings(settings)
    if args.gazetteer:
        from services.extractor.gazetteer import default_gazetteer

        config.gazetteer = default_gazetteer(tuple(Path(g) for g in args.gazetteer))
    state = DedupState()
    if args.state and Path(args.state).exists():
        state = DedupState.restore(json.loads(Path(args.state).read_text(encoding="utf-8")))
    reports = []
    for name in args.files:
        try:
            raw = raw_from_file(Path(name), args.title)
        except BinaryContent as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        reports.extend(extract(raw, state, config))
    if args.state:
        Path(args.state).write_text(json.dumps(state.snapshot()), encoding="utf-8")
    if args.json:
        out = [
            json.loads(r.model_dump_json(exclude={"folded_text"} if args.brief else None))
            for r in reports
        ]
        json.dump(out if len(out) != 1 else out[0], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    for r in reports:
        print(
            f"{r.report_id}  [{r.language} {r.language_confidence:.2f}]  relevance={r.relevance:.2f}"
        )
        print(f"  {r.headline}")
        for e in r.entities:
            print(f"  entity  {e.id:32s} {e.name}  ({', '.join(e.surface_forms)})")
        for ev in r.events:
            print(f"  event   {ev.type.value:20s} {ev.confidence:.2f}  {ev.evidence[:100]}")
        for f in r.figures:
            print(
                f"  figure  {f.kind.value:10s} {f.value:>8}  {f.subject or ''} | {f.claimant or ''}"
            )
        print(f"  story   {r.story_id}  duplicate_of={r.duplicate_of} near={r.near_duplicate_of}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ext = sub.add_parser("extractor", help="the extractor service (raw -> report)")
    ext_sub = ext.add_subparsers(dest="extractor_command", metavar="COMMAND")
    run = ext_sub.add_parser("run", help="run the faust worker: consume raw, produce reports")
    run.set_defaults(func=_run)
    ext.set_defaults(func=lambda args: (ext.print_help(), 2)[1])

    one = sub.add_parser(
        "extract",
        help="run the extraction pipeline offline on local files and print the report(s)",
        description="Handy to check the gazetteer or keyword files: no Kafka needed.",
    )
    one.add_argument("files", nargs="+", metavar="FILE", help=".html, .txt or a RawArticle .json")
    one.add_argument("--json", action="store_true", help="Print Report JSON")
    one.add_argument("--brief", action="store_true", help="With --json: leave out folded_text")
    one.add_argument("--title", help="Headline to use (as a feed would give it)")
    one.add_argument(
        "--gazetteer", action="append", metavar="DIR", help="Extra gazetteer folder (repeatable)"
    )
    one.add_argument("--state", metavar="FILE", help="Keep dedup/story state in this JSON file")
    one.set_defaults(func=_extract)
