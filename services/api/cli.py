"""`cwatch api run`: the one command that starts the HTTP process (services/api/app.py).

`cwatch alerts serve` started the same app before the API had a package of its own; it is
kept as an alias for one release and says so on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

DEPRECATED_ALIASES = {("alerts", "serve"): "cwatch api run"}


def _api_run(args: argparse.Namespace) -> int:
    import uvicorn

    from services.api.app import create_app
    from services.common.logs import setup_logging
    from services.search.settings import SearchSettings

    settings = SearchSettings()
    # The address given here is also one the Host allow-list accepts by default.
    settings.api_host = args.host or settings.api_host
    settings.api_port = args.port if args.port is not None else settings.api_port
    setup_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        # The one HTTP face of the system: search, subscriptions, live feed and the web UI.
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
    )
    return 0


def _deprecated(old: str, new: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"cwatch {old} is deprecated and will be removed: use {new}", file=sys.stderr)
        return _api_run(args)

    return run


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)


def _actions_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def register(sub: argparse._SubParsersAction) -> None:
    api = sub.add_parser("api", help="The HTTP API: search, subscriptions, live feed, web UI")
    commands = api.add_subparsers(dest="api_command", metavar="ACTION")
    run = commands.add_parser("run", help="Serve the API with uvicorn (OpenAPI at /docs)")
    _add_run_arguments(run)
    run.set_defaults(func=_api_run)
    api.set_defaults(func=lambda args: (api.print_help(), 2)[1])

    # The old names, under the command groups their services registered (when installed).
    for (group, name), new in DEPRECATED_ALIASES.items():
        parent = sub.choices.get(group)
        actions = _actions_of(parent) if parent is not None else None
        if actions is None:
            continue
        alias = actions.add_parser(name, help=f"Deprecated: use `{new}`")
        _add_run_arguments(alias)
        alias.set_defaults(func=_deprecated(f"{group} {name}", new))
