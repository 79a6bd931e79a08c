"""`cwatch api run`: the one command that starts the HTTP process (services/api/app.py).

`cwatch alerts serve` started the same app before the API had a package of its own; it is
kept as an alias for one release and says so on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

DEPRECATED_ALIASES = {("alerts", "serve"): "cwatch api run"}


def _api_run(args: argparse.Namespace) -> int:
    import uvicorn

    from services.api.app import create_app
    from services.common.auth.local import check_local_mode
    from services.common.logs import setup_logging
    from services.common.metrics import serve_metrics
    from services.search.settings import SearchSettings

    settings = SearchSettings()
    if args.no_auth:
        settings.api_auth = "off"
    setup_logging(settings.log_level, settings.log_json)
    # The address given here is also one the Host allow-list accepts by default.
    host = settings.api_host = args.host or settings.api_host
    if args.port is not None:
        settings.api_port = args.port
    check_local_mode(host, settings.auth_on)
    app = create_app(settings)
    if settings.auth_on:
        first_start(app.state.accounts, settings)
    # Prometheus scrapes this internal port; /metrics on the API port needs an admin.
    serve_metrics(settings.metrics_port, settings.metrics_host)
    uvicorn.run(
        # The one HTTP face of the system: search, subscriptions, live feed and the web UI.
        app,
        host=host,
        port=settings.api_port,
        log_config=None,
    )
    return 0


def first_start(accounts: Any, settings: Any) -> None:
    """On an empty account store: create the first admin and print its one-time login link."""
    from elasticsearch import ApiError, TransportError

    from services.api.accounts_cli import login_link_text

    try:
        link = accounts.bootstrap()
    except (ApiError, TransportError) as exc:
        # Serve anyway (health answers, requests get 503 until the store is back); the
        # first admin is made on the next start, or with `cwatch users create`.
        print(f"could not check the account store for a first admin: {exc}", file=sys.stderr)
        return
    if link is None:
        return
    print(
        "\nFirst start: created the admin user 'admin'. Log in once with this link "
        f"(valid 24 h, single use), then set a password:\n\n  "
        f"{login_link_text(settings, link.text)}\n\n"
        "More users: cwatch users create NAME --role viewer|editor|admin\n",
        file=sys.stderr,
        flush=True,
    )


def _deprecated(old: str, new: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"cwatch {old} is deprecated and will be removed: use {new}", file=sys.stderr)
        return _api_run(args)

    return run


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="No accounts: every request acts as a local admin (loopback addresses only)",
    )


def _actions_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def register(sub: argparse._SubParsersAction) -> None:
    from services.api.accounts_cli import register as register_accounts

    register_accounts(sub)
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
