"""`cwatch`: one command line for every service. Each service registers its own sub-commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`; a sub-command stores its handler in `func`.
COMMAND_MODULES = (
    "services.ingestor.cli",
    "services.extractor.cli",
    "services.indexer.cli",
    "services.search.cli",
    "services.alerts.cli",
    "services.api.cli",  # after alerts: it adds the deprecated `alerts serve` alias there
    "services.ops.cli",
    "services.demo.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwatch",
        description=(
            "Caucasus conflict news watch: ingest news in many languages, extract structured "
            "reports, search them in Elasticsearch, follow a live feed and get alerts."
        ),
        epilog="Connection: KAFKA_BOOTSTRAP_SERVERS, ELASTICSEARCH_URL (see README, Configuration).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that service is not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
