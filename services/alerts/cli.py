"""`cwatch alerts run` (`serve`: a deprecated alias of `cwatch api run`, services/api/cli.py) and `cwatch subscriptions create|list|show|update|pause|resume|delete`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from services.alerts.app import AlertsService
    from services.alerts.settings import AlertsSettings
    from services.common.dlq import EXIT_TOO_MANY_DEAD_LETTERS, TooManyDeadLetters
    from services.common.logs import setup_logging
    from services.common.metrics import serve_metrics

    settings = AlertsSettings()
    setup_logging(settings.log_level, settings.log_json)
    serve_metrics(settings.metrics_port, settings.metrics_host)
    service = AlertsService(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        service.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except RuntimeError as exc:  # a loop died: logged with its cause; the exit status says so
        if isinstance(exc.__cause__, TooManyDeadLetters):
            print(f"cwatch alerts: stopped: {exc.__cause__}", file=sys.stderr)
            return EXIT_TOO_MANY_DEAD_LETTERS
        return 1
    return 0


def _store() -> Any:
    from services.alerts.settings import AlertsSettings
    from services.alerts.store import AlertStore
    from services.common.es import make_es
    from services.common.secretbox import SecretBox

    settings = AlertsSettings()
    return (
        AlertStore(make_es(settings), settings.index_prefix(), SecretBox.from_settings(settings)),
        settings,
    )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("lang", "source", "country", "affiliation", "entity", "event", "figure", "change"):
        values = getattr(args, name, None)
        if values:
            out[name] = [v.strip() for value in values for v in value.split(",") if v.strip()]
    for name in ("since", "until"):
        if getattr(args, name, None):
            out[name] = getattr(args, name)
    if getattr(args, "relevant", None) is not None:
        out["relevant"] = args.relevant
    return out


def _channel(args: argparse.Namespace) -> dict[str, Any] | None:
    if getattr(args, "email", None):
        email: dict[str, Any] = {"to": args.email, "schedule": args.schedule}
        if args.daily_at:
            email["daily_at"] = args.daily_at
        if args.timezone:
            email["timezone"] = args.timezone
        return {"kind": "email", "email": email}
    for kind in ("slack", "mattermost", "teams"):
        if getattr(args, kind, None):
            return {"kind": kind, "url": getattr(args, kind)}
    if getattr(args, "telegram_chat", None):
        token = args.telegram_token or ""
        return {"kind": "telegram", "telegram": {"chat_id": args.telegram_chat, "bot_token": token}}
    if args.webhook:
        channel: dict[str, Any] = {"kind": "webhook", "url": args.webhook}
        if args.secret:
            channel["secret"] = args.secret
        return channel
    if args.channel:
        return {"kind": args.channel}
    return None


def _check(store: Any, settings: Any, sub: Any) -> str | None:
    from services.common.netguard import BlockedAddress, NetPolicy
    from services.query.syntax import QueryError

    try:
        sub.check()
        if sub.channel.url:
            NetPolicy(settings.alerts_allow_loopback, settings.alerts_allow_private).check_url(
                sub.channel.url
            )
    except (QueryError, BlockedAddress, ConnectionError) as exc:
        return str(exc)
    return None


def _get(store: Any, sub_id: str) -> Any:
    """The subscription, or None after saying why (missing, or saved before today's rules)."""
    from pydantic import ValidationError

    try:
        sub = store.get(sub_id)
    except ValidationError as exc:
        print(
            f"cwatch subscriptions: {sub_id} is no longer valid (delete it): {exc}", file=sys.stderr
        )
        return None
    if sub is None:
        print(f"cwatch subscriptions: no subscription {sub_id}", file=sys.stderr)
    return sub


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from services.alerts.models import Subscription

    store, settings = _store()
    data: dict[str, Any] = {
        "name": args.name or args.query,
        "query": args.query,
        "filters": _filters(args),
        "mode": args.mode,
        "digest_minutes": args.digest_minutes,
        "active": not args.paused,
        "owner": args.owner,
    }
    channel = _channel(args)
    if channel:
        data["channel"] = channel
    try:
        sub = Subscription.model_validate(data)
    except ValidationError as exc:
        print(f"cwatch subscriptions: {exc}", file=sys.stderr)
        return 2
    problem = _check(store, settings, sub)
    if problem:
        print(f"cwatch subscriptions: {problem}", file=sys.stderr)
        return 2
    store.put(sub)
    result = sub.public()
    # Shown once, so the receiver can be configured with them.
    result["channel"]["secret"] = sub.channel.secret
    result["channel"]["url"] = sub.channel.url
    _print(result)
    return 0


def _list(args: argparse.Namespace) -> int:
    from services.common.redact import mask_webhook_url

    store, _ = _store()
    subs = store.list_subscriptions(active_only=args.active, owner=args.owner)
    if args.json:
        _print([s.public() for s in subs])
        return 0
    for s in subs:
        state = "active" if s.active else "paused"
        # A webhook URL may be its receiver's bearer secret (Slack-style): host only.
        target = mask_webhook_url(s.channel.url) if s.channel.url else s.channel.kind.value
        owner = s.owner or "-"
        print(
            f"{s.id}  {state:6}  {s.mode.value:9}  {owner:12}  {target:30}  {s.name!r}  "
            f"q={s.query!r}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    store, _ = _store()
    sub = _get(store, args.id)
    if sub is None:
        return 1
    _print({**sub.public(), "deliveries": store.deliveries(args.id, 20)})
    return 0


def _update(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from services.alerts.models import apply_update

    store, settings = _store()
    sub = _get(store, args.id)
    if sub is None:
        return 1
    changes: dict[str, Any] = {}
    for name in ("name", "query", "mode", "digest_minutes"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    filters = _filters(args)
    if filters:
        changes["filters"] = filters
    channel = _channel(args)
    if channel:
        changes["channel"] = channel
    try:
        sub = apply_update(sub, changes)
    except ValidationError as exc:
        print(f"cwatch subscriptions: {exc}", file=sys.stderr)
        return 2
    problem = _check(store, settings, sub)
    if problem:
        print(f"cwatch subscriptions: {problem}", file=sys.stderr)
        return 2
    _print(store.put(sub).public())
    return 0


def _set_active(active: bool) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from services.alerts.models import apply_update

        store, _ = _store()
        sub = _get(store, args.id)
        if sub is None:
            return 1
        _print(store.put(apply_update(sub, {"active": active})).public())
        return 0

    return handler


def _delete(args: argparse.Namespace) -> int:
    store, _ = _store()
    if not store.delete(args.id):
        print(f"cwatch subscriptions: no subscription {args.id}", file=sys.stderr)
        return 1
    print(f"deleted {args.id}")
    return 0


def _add_filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", action="append", help="Language code (repeat or comma-separate)")
    p.add_argument("--source", action="append", help="Source name")
    p.add_argument("--country", action="append", help="Source country, ISO alpha-2")
    p.add_argument("--affiliation", action="append", help="state, independent, wire, ...")
    p.add_argument("--entity", action="append", help="Entity id; every one must be mentioned")
    p.add_argument("--event", action="append", help="Event type, e.g. ceasefire_violation")
    p.add_argument("--figure", action="append", help="Figure kind: killed, wounded, displaced")
    p.add_argument("--since", help="7d, 24h or an ISO date")
    p.add_argument("--until", help="7d, 24h or an ISO date")
    p.add_argument("--change", action="append", help="Statements edited, withdrawn (or both)")
    rel = p.add_mutually_exclusive_group()
    rel.add_argument("--relevant", dest="relevant", action="store_true", default=None)
    rel.add_argument("--irrelevant", dest="relevant", action="store_false")


def _add_channel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--webhook", metavar="URL", help="POST signed JSON alerts to URL")
    p.add_argument("--secret", help="Webhook HMAC secret (generated and printed if omitted)")
    p.add_argument("--channel", choices=["sse", "kafka"], help="Without a webhook: sse or kafka")
    p.add_argument("--email", action="append", metavar="ADDRESS", help="Email alerts (repeat)")
    p.add_argument(
        "--schedule",
        choices=["immediate", "hourly", "daily"],
        default="immediate",
        help="Email: one per alert, or an hourly / daily digest",
    )
    p.add_argument("--daily-at", metavar="HH:MM", help="Email: local time of the daily digest")
    p.add_argument("--timezone", metavar="ZONE", help="Email: IANA zone, e.g. Asia/Yerevan")
    p.add_argument("--slack", metavar="URL", help="Slack incoming webhook URL")
    p.add_argument("--mattermost", metavar="URL", help="Mattermost incoming webhook URL")
    p.add_argument("--teams", metavar="URL", help="Microsoft Teams incoming webhook URL")
    p.add_argument("--telegram-chat", metavar="ID", help="Telegram chat id or @channel")
    p.add_argument("--telegram-token", metavar="TOKEN", help="Telegram bot token")


def register(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser("alerts", help="Match newly indexed reports to subscriptions, deliver")
    acts = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    acts.add_parser(
        "run", help="Consume the indexed topic, match, de-duplicate, produce alerts, webhooks"
    ).set_defaults(func=_run)
    alerts.set_defaults(func=lambda args: (alerts.print_help(), 2)[1])

    subs = sub.add_parser("subscriptions", help="Create, list, change, pause and delete alerts")
    cmds = subs.add_subparsers(dest="subscriptions_command", metavar="ACTION")
    create = cmds.add_parser("create", help="A new subscription (prints its id and secret)")
    create.add_argument("query", nargs="?", default="", help='Search syntax, e.g. "ceasefire"')
    create.add_argument("--name")
    create.add_argument("--mode", choices=["every", "per_story", "digest"], default="per_story")
    create.add_argument("--digest-minutes", type=int, default=60)
    create.add_argument("--paused", action="store_true", help="Create it paused")
    create.add_argument(
        "--owner", default=None, help="The user it belongs to (who sees it in the API and UI)"
    )
    _add_filter_args(create)
    _add_channel_args(create)
    create.set_defaults(func=_create)

    ls = cmds.add_parser("list", help="Every subscription")
    ls.add_argument("--active", action="store_true", help="Only active ones")
    ls.add_argument("--owner", default=None, help="Only those of this user")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    show = cmds.add_parser("show", help="One subscription with its latest deliveries")
    show.add_argument("id")
    show.set_defaults(func=_show)

    upd = cmds.add_parser("update", help="Change the given fields (filters given replace those)")
    upd.add_argument("id")
    upd.add_argument("--query")
    upd.add_argument("--name")
    upd.add_argument("--mode", choices=["every", "per_story", "digest"])
    upd.add_argument("--digest-minutes", type=int)
    _add_filter_args(upd)
    _add_channel_args(upd)
    upd.set_defaults(func=_update)

    for name, active in (("pause", False), ("resume", True)):
        p = cmds.add_parser(name, help=f"{name.capitalize()} matching")
        p.add_argument("id")
        p.set_defaults(func=_set_active(active))
    rm = cmds.add_parser("delete", help="Delete a subscription")
    rm.add_argument("id")
    rm.set_defaults(func=_delete)
    subs.set_defaults(func=lambda args: (subs.print_help(), 2)[1])
