"""HTTP API of subscriptions, their delivery log and streams, and the live feed (`/v1/...`).

Mounted by `services.api.app.create_app`, which calls `install`; the router finds the
Elasticsearch client and settings on `app.state` (and creates its own state on first use).
"""

from __future__ import annotations

import asyncio
import hmac
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import ValidationError

from services.alerts.deliverylog import DeliveryLogWriter
from services.alerts.emailmsg import link_token
from services.alerts.live import LiveClient, LiveHub, TooManyClients, sse
from services.alerts.models import PUSHED, Subscription, SubscriptionInput, apply_update
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from services.api.auth import OPEN, Viewer
from services.api.feedtokens import FeedTarget, FeedTokenStore
from services.api.ownership import audit_admin, owner_filter, owns
from services.api.search import search_params
from services.common.auth.models import Principal
from services.common.auth.roles import Role, allows
from services.common.netguard import BlockedAddress, NetPolicy
from services.common.secretbox import SecretBox
from services.query.bodies import build_query
from services.query.params import SearchParams
from services.query.syntax import QueryError

router = APIRouter(prefix="/v1", tags=["alerts"])

HEARTBEAT_S = 15.0


@dataclass
class AlertsState:
    settings: AlertsSettings
    store: AlertStore
    hub: LiveHub
    policy: NetPolicy
    delivery_log: DeliveryLogWriter
    feed_tokens: FeedTokenStore  # a deleted subscription's feeds go with it


def install(app: FastAPI, settings: AlertsSettings | None = None) -> AlertsState:
    """Attach the alerts state to an app (uses `app.state.es`)."""
    if settings is None:
        base = getattr(app.state, "settings", None)
        settings = AlertsSettings(
            **(
                {
                    "namespace": base.namespace,
                    "kafka_bootstrap_servers": base.kafka_bootstrap_servers,
                    "elasticsearch_url": base.elasticsearch_url,
                }
                if base is not None
                else {}
            )
        )
    store = AlertStore(app.state.es, settings.index_prefix(), SecretBox.from_settings(settings))
    delivery_log = DeliveryLogWriter(store)

    def sent(sub_id: str, alert_id: str) -> None:
        # Queued, not written here: the hub's thread fans out to every stream and must not
        # wait for Elasticsearch once per alert.
        delivery_log.add([(sub_id, alert_id)], "sse", "sent")

    hub = LiveHub(
        settings.kafka_bootstrap_servers,
        settings.topics,
        app.state.es,
        settings.index_alias,
        on_alert_sent=sent,
        failing_since=store.failing_since,
        queue_max=settings.alerts_live_queue_max,
        max_clients=settings.alerts_live_max_clients,
    )
    state = AlertsState(
        settings,
        store,
        hub,
        NetPolicy(settings.alerts_allow_loopback, settings.alerts_allow_private),
        delivery_log,
        FeedTokenStore(app.state.es, settings.index_prefix()),
    )
    app.state.alerts = state
    return state


def get_state(request: Request) -> AlertsState:
    state = getattr(request.app.state, "alerts", None)
    if state is None:
        state = install(request.app)
    assert isinstance(state, AlertsState)
    return state


State = Annotated[AlertsState, Depends(get_state)]


def _checked(state: AlertsState, sub: Subscription) -> Subscription:
    try:
        sub.check()
    except QueryError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if sub.channel.kind in PUSHED and sub.channel.url:
        try:
            state.policy.check_url(sub.channel.url)
        except (BlockedAddress, ConnectionError) as exc:
            raise HTTPException(status_code=400, detail=f"webhook url refused: {exc}") from None
    return sub


def _found(state: AlertsState, sub_id: str, principal: Principal) -> Subscription:
    """The subscription, when `principal` owns it or is an admin; another user's answers 404,
    exactly like one that does not exist."""
    missing = HTTPException(status_code=404, detail=f"no subscription with id {sub_id!r}")
    try:
        sub = state.store.get(sub_id)
    except ValidationError as exc:  # saved before today's rules: only deleting it is left
        if not allows(principal.role, Role.ADMIN):
            raise missing from None
        raise HTTPException(
            status_code=409, detail=f"stored subscription no longer valid (delete it): {exc}"
        ) from None
    if sub is None or not owns(principal, sub.owner):
        raise missing
    return sub


def _audit_admin(
    request: Request, principal: Principal, action: str, sub_id: str, owner: str | None
) -> None:
    """An admin acting on someone else's subscription is written to the audit log."""
    audit_admin(request, principal, f"subscription.{action}", owner, subscription=sub_id)


def _shown_once(sub: Subscription) -> dict[str, Any]:
    """A subscription as answered when its secret is new: the secret and the full URL are in
    this answer only, so the receiver can be configured with them."""
    result = sub.public()
    result["channel"]["secret"] = sub.channel.secret
    result["channel"]["url"] = sub.channel.url
    return result


@router.post("/subscriptions", status_code=201, summary="Create a subscription (yours)")
def create(state: State, principal: Viewer, body: SubscriptionInput) -> dict[str, Any]:
    sub = _checked(state, Subscription(**body.model_dump(), owner=principal.user))
    state.store.put(sub)
    return _shown_once(sub)


@router.get("/subscriptions", summary="List your subscriptions (admins: everyone's)")
def list_all(state: State, principal: Viewer) -> dict[str, Any]:
    subs = state.store.list_subscriptions(owner=owner_filter(principal))
    try:
        failing = state.store.failing([s.id for s in subs])
    except Exception:  # a hint for operators; the list is what matters
        failing = set()
    return {
        "total": len(subs),
        "subscriptions": [{**s.public(), "failing": s.id in failing} for s in subs],
    }


@router.get("/subscriptions/{sub_id}", summary="One subscription")
def get_one(state: State, principal: Viewer, sub_id: str) -> dict[str, Any]:
    return _found(state, sub_id, principal).public()


@router.patch(
    "/subscriptions/{sub_id}",
    summary="Change some fields of a subscription (a new webhook URL gets a new secret)",
)
def update(
    request: Request, state: State, principal: Viewer, sub_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    unknown = set(body) - set(SubscriptionInput.model_fields)
    if unknown:
        raise HTTPException(status_code=400, detail=f"unknown fields: {sorted(unknown)}")
    current = _found(state, sub_id, principal)
    try:
        sub = apply_update(current, body)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    state.store.put(_checked(state, sub))
    _audit_admin(request, principal, "update", sub_id, current.owner)
    if sub.channel.secret and sub.channel.secret != current.channel.secret:
        return _shown_once(sub)
    return sub.public()


def _set_active(
    request: Request, state: AlertsState, principal: Principal, sub_id: str, active: bool
) -> dict[str, Any]:
    current = _found(state, sub_id, principal)
    sub = state.store.put(apply_update(current, {"active": active}))
    _audit_admin(request, principal, "pause" if not active else "resume", sub_id, current.owner)
    return sub.public()


@router.post("/subscriptions/{sub_id}/pause", summary="Stop matching until resumed")
def pause(request: Request, state: State, principal: Viewer, sub_id: str) -> dict[str, Any]:
    return _set_active(request, state, principal, sub_id, False)


@router.post("/subscriptions/{sub_id}/resume", summary="Match again")
def resume(request: Request, state: State, principal: Viewer, sub_id: str) -> dict[str, Any]:
    return _set_active(request, state, principal, sub_id, True)


def _delete(state: AlertsState, sub_id: str) -> bool:
    """The subscription and its Atom feeds' tokens: a deleted subscription leaves no feed URL
    that answers (a feed whose target is gone by another way is revoked when read: feeds.py)."""
    if not state.store.delete(sub_id):
        return False
    state.feed_tokens.delete_target(FeedTarget.SUBSCRIPTION, sub_id)
    return True


@router.delete("/subscriptions/{sub_id}", status_code=204, summary="Delete a subscription")
def delete(request: Request, state: State, principal: Viewer, sub_id: str) -> Response:
    try:
        owner = _found(state, sub_id, principal).owner
    except HTTPException as exc:
        if exc.status_code != 409:  # an invalid stored one (admins only) may still go
            raise
        owner = None
    if not _delete(state, sub_id):
        raise HTTPException(status_code=404, detail=f"no subscription with id {sub_id!r}")
    _audit_admin(request, principal, "delete", sub_id, owner)
    return Response(status_code=204)


@router.get(
    "/subscriptions/{sub_id}/deliveries",
    summary="Delivery log (sent, retried, failed) and the stories alerted so far",
)
def deliveries(state: State, principal: Viewer, sub_id: str, size: int = 100) -> dict[str, Any]:
    _found(state, sub_id, principal)
    size = max(1, min(size, 1000))
    state.delivery_log.flush()  # what this process streamed is in the log it shows
    log = state.store.deliveries(sub_id, size)
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    stories = [s.model_dump(mode="json") for s in state.store.stories(sub_id)]
    # Failing: the newest line that says how the channel is doing says it keeps failing.
    verdicts = [e for e in log if e["outcome"] in ("sent", "queued", "channel_failing")]
    failing = bool(verdicts) and verdicts[0]["outcome"] == "channel_failing"
    return {
        "subscription_id": sub_id,
        "counts": counts,
        "failing": failing,
        "deliveries": log,
        "stories": stories,
    }


_ACTIONS = ("pause", "delete")


def _link_checked(state: AlertsState, sub_id: str, action: str, token: str) -> Subscription:
    # The signed token is the credential (whoever holds the email): no account, no ownership.
    try:
        sub = state.store.get(sub_id)
    except ValidationError:
        sub = None
    if sub is None:
        raise HTTPException(status_code=403, detail="this link is not valid (any more)")
    expected = link_token(sub.channel.secret or "", sub.id, action)
    if action not in _ACTIONS or not sub.channel.secret or not hmac.compare_digest(expected, token):
        raise HTTPException(status_code=403, detail="this link is not valid (any more)")
    return sub


@router.get(
    "/subscriptions/{sub_id}/unsubscribe",
    response_class=HTMLResponse,
    summary="The page of an email's pause / unsubscribe link: asks to confirm",
    dependencies=[Depends(OPEN)],  # the signed token in the link is the credential
)
def unsubscribe_page(state: State, sub_id: str, action: str, token: str) -> HTMLResponse:
    # A GET changes nothing: mail scanners open links; the button POSTs (as RFC 8058 clients do).
    sub = _link_checked(state, sub_id, action, token)
    verb = "Pause" if action == "pause" else "Unsubscribe from"
    e = html.escape
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{verb} alerts</title>"
        f"<p>{verb} the alerts <b>{e(sub.name or sub.id)}</b>?</p>"
        f'<form method="post"><input type="hidden" name="action" value="{e(action)}">'
        f'<button type="submit">{verb}</button></form>'
    )


@router.post(
    "/subscriptions/{sub_id}/unsubscribe",
    response_class=HTMLResponse,
    summary="Pause or delete a subscription from an email's signed link (RFC 8058 one-click)",
    dependencies=[Depends(OPEN)],  # the signed token in the link is the credential
)
def unsubscribe(state: State, sub_id: str, action: str, token: str) -> HTMLResponse:
    sub = _link_checked(state, sub_id, action, token)
    if action == "pause":
        state.store.put(apply_update(sub, {"active": False}))
        return HTMLResponse("<!doctype html><p>Paused. Resume it in the subscriptions page.</p>")
    _delete(state, sub.id)
    return HTMLResponse("<!doctype html><p>Unsubscribed: no more of these alerts.</p>")


async def _stream(request: Request, state: AlertsState, client: LiveClient) -> AsyncIterator[str]:
    try:
        ready = await asyncio.to_thread(state.hub.wait_ready, 30.0)
        yield "retry: 3000\n\n"
        yield sse("ready", {"ready": ready, "client": client.id})
        while True:
            try:
                event, data = await asyncio.wait_for(client.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            yield sse(event, data, data.get("report_id") or data.get("alert_id"))
            if client.closed and event == "overflow":
                return
    finally:
        state.hub.remove(client)


def _added(state: AlertsState, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> LiveClient:
    try:
        return state.hub.add(loop, **kwargs)
    except TooManyClients as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": "30"}
        ) from None


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/subscriptions/{sub_id}/stream", summary="Server-Sent Events: this subscription's alerts"
)
async def stream(
    request: Request, state: State, principal: Viewer, sub_id: str
) -> StreamingResponse:
    await asyncio.to_thread(_found, state, sub_id, principal)
    client = _added(state, asyncio.get_running_loop(), subscription_id=sub_id)
    return StreamingResponse(
        _stream(request, state, client), media_type="text/event-stream", headers=_SSE_HEADERS
    )


@router.get("/live", summary="Server-Sent Events: newly indexed reports, with the search filters")
async def live(
    request: Request,
    state: State,
    principal: Viewer,
    params: Annotated[SearchParams, Depends(search_params)],
) -> StreamingResponse:
    try:
        build_query(params, datetime.now(UTC))
    except QueryError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    client = _added(
        state,
        asyncio.get_running_loop(),
        params=params,
        viewer=principal.user,
        sees_all=owner_filter(principal) is None,  # an admin, or the no-accounts mode
    )
    return StreamingResponse(
        _stream(request, state, client), media_type="text/event-stream", headers=_SSE_HEADERS
    )
