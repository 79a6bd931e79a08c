"""Operations sub-commands: topics and versions (dead-letter commands live in dlq.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from schemas.deadletter import Stage
from schemas.topics import SCHEMA_VERSION
from services.common.kafka import ensure_topics
from services.ops import dlq
from services.ops.settings import OpsSettings


def register(sub: argparse._SubParsersAction) -> None:
    topics = sub.add_parser("topics", help="Create or list the system's Kafka topics")
    topics_sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = topics_sub.add_parser("create", help="Create every declared topic that is missing")
    create.set_defaults(func=run_topics_create)
    listing = topics_sub.add_parser("list", help="Print the declared topics and partition counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_topics_list)

    letters = sub.add_parser("dlq", help="Inspect and replay the dead-letter topic")
    letters_sub = letters.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    show = letters_sub.add_parser("list", help="List dead letters: time, stage, reason, source")
    show.add_argument("--stage", choices=[s.value for s in Stage], help="only this stage")
    show.add_argument("--grep", help="only reasons containing this text")
    show.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    show.add_argument("--json", action="store_true", help="one JSON letter per line")
    show.set_defaults(func=run_dlq_list)
    again = letters_sub.add_parser(
        "replay", help="Send the original messages of one stage back to their topics (after a fix)"
    )
    again.add_argument("--stage", required=True, choices=[s.value for s in Stage])
    again.add_argument("--grep", help="only letters whose reason contains this text")
    again.add_argument("--dry-run", action="store_true", help="count what would be replayed")
    again.set_defaults(func=run_dlq_replay)


def run_topics_create(args: argparse.Namespace) -> int:
    settings = OpsSettings()
    created = ensure_topics(settings.kafka_bootstrap_servers, settings.topics)
    print(f"created: {', '.join(created) if created else 'nothing (all topics exist)'}")
    return 0


def run_topics_list(args: argparse.Namespace) -> int:
    settings = OpsSettings()
    rows = [
        {
            "role": spec.role,
            "topic": name,
            "partitions": spec.partitions,
            "schema_version": SCHEMA_VERSION,
        }
        for name, spec in settings.topics.all()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['role']:14} {row['topic']:40} partitions={row['partitions']}")
    return 0


def run_dlq_list(args: argparse.Namespace) -> int:
    settings = OpsSettings()
    records = dlq.read_all(settings.kafka_bootstrap_servers, settings.topics.deadletter)
    stage = Stage(args.stage) if args.stage else None
    chosen = dlq.select(dlq.parse_letters(records), stage, args.grep)[-args.limit :]
    for item in chosen:
        letter = item.letter
        if args.json:
            print(letter.model_dump_json())
            continue
        when = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S")
        where = letter.source or letter.original_topic or "-"
        print(
            f"{when}  {letter.stage.value:8} {letter.error_type:22} {where[:50]:50} {letter.reason[:90]}"
        )
    if not args.json:
        print(
            f"{len(chosen)} dead letter(s) shown of {len(records)} on {settings.topics.deadletter}"
        )
    return 0


def _audit_replay(settings: OpsSettings, args: argparse.Namespace, result: Any) -> None:
    """A replay sends old messages through the pipeline again: the audit log says who did."""
    from services.common.auth.accounts import audit_entry, cli_actor
    from services.common.auth.store import AccountStore
    from services.common.es import make_es
    from services.common.settings import AuthSettings

    prefix = AuthSettings(namespace=settings.namespace).account_prefix()
    entry = audit_entry(
        "dlq.replay",
        cli_actor(),
        target=args.stage,
        outcome="ok" if not result.failed else "partial",
        grep=args.grep,
        replayed=result.replayed,
        failed=result.failed,
    )
    try:
        AccountStore(make_es(settings), prefix).audit(entry)
    except Exception as exc:  # noqa: BLE001 - the replay happened; say the audit did not
        print(f"warning: the replay is not in the audit log: {exc}", file=sys.stderr)


def run_dlq_replay(args: argparse.Namespace) -> int:
    settings = OpsSettings()
    result = dlq.replay(
        settings.kafka_bootstrap_servers,
        settings.topics.deadletter,
        Stage(args.stage),
        args.grep,
        args.dry_run,
    )
    if not args.dry_run:
        _audit_replay(settings, args, result)
    verb = "would replay" if args.dry_run else "replayed"
    print(
        f"{verb} {result.replayed} message(s) of stage {args.stage}; {result.left} of the stage "
        f"left replayable; {result.skipped} other letter(s) left alone"
    )
    if result.failed:
        print(f"{result.failed} send(s) not acknowledged by Kafka: run the replay again")
        return 1
    return 0
