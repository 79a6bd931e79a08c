"""Operations sub-commands: topics and versions (dead-letter commands live in dlq.py)."""

from __future__ import annotations

import argparse
import json

from schemas.topics import SCHEMA_VERSION
from services.common.kafka import ensure_topics
from services.ops.settings import OpsSettings


def register(sub: argparse._SubParsersAction) -> None:
    topics = sub.add_parser("topics", help="Create or list the system's Kafka topics")
    topics_sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = topics_sub.add_parser("create", help="Create every declared topic that is missing")
    create.set_defaults(func=run_topics_create)
    listing = topics_sub.add_parser("list", help="Print the declared topics and partition counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_topics_list)


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
