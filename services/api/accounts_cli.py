"""`cwatch users create|list|disable|enable|role|login-link|unlock` and `cwatch tokens create|list|revoke`:
operators' account commands (they reach the store directly, as operators do; each change is in
the audit log as done by `cli:<login name>`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _accounts() -> Any:
    from services.api.accounts import make_accounts
    from services.common.es import make_es
    from services.search.settings import SearchSettings

    settings = SearchSettings()
    return make_accounts(make_es(settings), settings), settings


def _actor() -> str:
    from services.common.auth.accounts import cli_actor

    return cli_actor()


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def login_link_text(settings: Any, text: str) -> str:
    return f"{settings.public_url()}/ui/#login={text}"


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _users_create(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError
    from services.common.auth.roles import Role

    accounts, settings = _accounts()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    try:
        user = accounts.create_user(args.name, Role(args.role), password, _actor())
        result = user.public()
        if not password:
            link = accounts.login_link(user.name, _actor())
            result["login_link"] = login_link_text(settings, link.text)
    except AccountError as exc:
        return _fail(exc)
    _print(result)
    return 0


def _users_list(args: argparse.Namespace) -> int:
    accounts, _ = _accounts()
    _print([u.public() for u in accounts.store.users()])
    return 0


def _users_set(disabled: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        from services.common.auth.accounts import AccountError

        accounts, _ = _accounts()
        try:
            _print(accounts.update_user(args.name, _actor(), disabled=disabled).public())
        except AccountError as exc:
            return _fail(exc)
        return 0

    return run


def _users_role(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError
    from services.common.auth.roles import Role

    accounts, _ = _accounts()
    try:
        _print(accounts.update_user(args.name, _actor(), role=Role(args.role)).public())
    except AccountError as exc:
        return _fail(exc)
    return 0


def _users_login_link(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError

    accounts, settings = _accounts()
    try:
        link = accounts.login_link(args.name, _actor())
    except AccountError as exc:
        return _fail(exc)
    print(login_link_text(settings, link.text))
    return 0


def _users_unlock(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError

    if not args.name and not args.address:
        return _fail(ValueError("name a user, or --address, or both"))
    accounts, _ = _accounts()
    try:
        cleared = accounts.unlock(args.name, _actor(), args.address)
    except AccountError as exc:
        return _fail(exc)
    _print({"user": args.name, "address": args.address, "cleared": cleared})
    return 0


def _tokens_create(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError
    from services.common.auth.roles import Role

    accounts, _ = _accounts()
    try:
        new = accounts.create_token(
            args.user,
            _actor(),
            args.label,
            None if args.days == 0 else args.days,
            Role(args.role) if args.role else None,
        )
    except AccountError as exc:
        return _fail(exc)
    if args.json:
        _print({**new.record.public(), "token": new.text})
    else:
        print(new.text)
        print(f"(token id {new.record.id}; shown once, keep it safe)", file=sys.stderr)
    return 0


def _tokens_list(args: argparse.Namespace) -> int:
    accounts, _ = _accounts()
    _print([c.public() for c in accounts.store.credentials(args.user)])
    return 0


def _tokens_revoke(args: argparse.Namespace) -> int:
    from services.common.auth.accounts import AccountError
    from services.common.auth.models import Principal
    from services.common.auth.roles import Role

    accounts, settings = _accounts()
    try:
        cred = accounts.revoke(args.id, Principal(user=_actor(), role=Role.ADMIN))
    except AccountError as exc:
        return _fail(exc)
    _print(cred.public())
    print(f"refused by every API instance within {settings.auth_cache_s:g} s", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    roles = ("viewer", "editor", "admin")
    users = sub.add_parser("users", help="Accounts: create, list, disable, login links")
    cmds = users.add_subparsers(dest="users_command", metavar="ACTION")
    p = cmds.add_parser("create", help="Create a user (prints a one-time login link)")
    p.add_argument("name")
    p.add_argument("--role", choices=roles, default="viewer")
    p.add_argument(
        "--password-stdin", action="store_true", help="Read a password from the first stdin line"
    )
    p.set_defaults(func=_users_create)
    cmds.add_parser("list", help="Every user").set_defaults(func=_users_list)
    for name, disabled, text in (
        ("disable", True, "Refuse the user's logins, sessions and tokens (within seconds)"),
        ("enable", False, "Let a disabled user in again"),
    ):
        p = cmds.add_parser(name, help=text)
        p.add_argument("name")
        p.set_defaults(func=_users_set(disabled))
    p = cmds.add_parser("role", help="Change a user's role")
    p.add_argument("name")
    p.add_argument("role", choices=roles)
    p.set_defaults(func=_users_role)
    p = cmds.add_parser("login-link", help="A one-time login link (24 h) for a user")
    p.add_argument("name")
    p.set_defaults(func=_users_login_link)
    p = cmds.add_parser(
        "unlock", help="Let a user (or a client address) try to log in again after failed logins"
    )
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("--address", default=None, help="A client address locked out of logins")
    p.set_defaults(func=_users_unlock)
    users.set_defaults(func=lambda args: (users.print_help(), 2)[1])

    tokens = sub.add_parser("tokens", help="Personal API tokens: create, list, revoke")
    cmds = tokens.add_subparsers(dest="tokens_command", metavar="ACTION")
    p = cmds.add_parser("create", help="A new token for a user (printed once)")
    p.add_argument("--user", required=True)
    p.add_argument("--label", default="", help="What it is for (a script, a feed reader)")
    p.add_argument("--days", type=float, default=90, help="Expires after this many days; 0: never")
    p.add_argument("--role", choices=roles, default=None, help="Below the user's role")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_tokens_create)
    p = cmds.add_parser("list", help="Tokens (of one user with --user)")
    p.add_argument("--user", default=None)
    p.set_defaults(func=_tokens_list)
    p = cmds.add_parser("revoke", help="Revoke a token by its id")
    p.add_argument("id")
    p.set_defaults(func=_tokens_revoke)
    tokens.set_defaults(func=lambda args: (tokens.print_help(), 2)[1])
