"""`cwatch indexer run | migrate | drop-before`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType


def _run(args: argparse.Namespace) -> int:
    from services.common.dlq import EXIT_TOO_MANY_DEAD_LETTERS, TooManyDeadLetters
    from services.common.logs import setup_logging
    from services.common.metrics import serve_metrics
    from services.indexer.app import Indexer
    from services.indexer.migrate import MigrationNeeded
    from services.indexer.settings import IndexerSettings

    settings = IndexerSettings()
    setup_logging(settings.log_level, settings.log_json)
    serve_metrics(settings.metrics_port, settings.metrics_host)
    indexer = Indexer(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        indexer.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        indexer.run()
    except MigrationNeeded as exc:
        print(f"cwatch indexer: {exc}", file=sys.stderr)
        return 3
    except TooManyDeadLetters as exc:  # offsets left uncommitted: the batch is read again
        print(f"cwatch indexer: stopped: {exc}", file=sys.stderr)
        return EXIT_TOO_MANY_DEAD_LETTERS
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from services.common.es import make_es
    from services.common.logs import setup_logging
    from services.indexer.migrate import migrate
    from services.indexer.settings import IndexerSettings

    settings = IndexerSettings()
    setup_logging(settings.log_level, settings.log_json)
    report = migrate(make_es(settings), settings, delete_old=args.delete_old)
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def _drop_before(args: argparse.Namespace) -> int:
    from services.common.es import make_es
    from services.indexer.migrate import drop_months_before
    from services.indexer.settings import IndexerSettings

    settings = IndexerSettings()
    dropped = drop_months_before(make_es(settings), settings.index_alias, args.month)
    print(json.dumps({"deleted": dropped}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "indexer", help="Index reports into Elasticsearch; manage the report indices"
    )
    commands = parser.add_subparsers(dest="indexer_command", metavar="ACTION")
    run = commands.add_parser(
        "run", help="Consume the report topic, index into Elasticsearch, announce on indexed"
    )
    run.set_defaults(func=_run)
    mig = commands.add_parser(
        "migrate",
        help="Install the index template; move older mapping versions to the current one "
        "(new index, copy, atomic alias switch)",
    )
    mig.add_argument(
        "--delete-old", action="store_true", help="Delete the old indices after the switch"
    )
    mig.set_defaults(func=_migrate)
    drop = commands.add_parser("drop-before", help="Delete report indices of months before MONTH")
    drop.add_argument("month", help="YYYY.MM; that month is kept")
    drop.set_defaults(func=_drop_before)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
