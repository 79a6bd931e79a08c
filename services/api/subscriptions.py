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
from services.api.search import search_params
from services.common.netguard import BlockedAddress, NetPolicy
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
    store = AlertStore(app.state.es, settings.index_prefix())
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
        queue_max=settings.alerts_live_queue_max,
        max_clients=settings.alerts_live_max_clients,
    )
    state = AlertsState(
        settings,
        store,
        hub,
        NetPolicy(settings.alerts_allow_loopback, settings.alerts_allow_private),
        delivery_log,
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


def _found(state: AlertsState, sub_id: str) -> Subscription:
    try:
        sub = state.store.get(sub_id)
    except ValidationError as exc:  # saved before today's rules: only deleting it is left
        raise HTTPException(
            status_code=409, detail=f"stored subscription no longer valid (delete it): {exc}"
        ) from None
    if sub is None:
        raise HTTPException(status_code=404, detail=f"no subscription with id {sub_id!r}")
    return sub


@router.post("/subscriptions", status_code=201, summary="Create a subscription")
def create(state: State, body: SubscriptionInput) -> dict[str, Any]:
    sub = _checked(state, Subscription(**body.model_dump()))
    state.store.put(sub)
    result = sub.public()
    # The secret is shown once, so the receiver can be configured with it.
    result["channel"]["secret"] = sub.channel.secret
    return result


@router.get("/subscriptions", summary="List subscriptions")
def list_all(state: State) -> dict[str, Any]:
    subs = state.store.list_subscriptions()
    try:
        failing = state.store.failing([s.id for s in subs])
    except Exception:  # a hint for operators; the list is what matters
        failing = set()
    return {
        "total": len(subs),
        "subscriptions": [{**s.public(), "failing": s.id in failing} for s in subs],
    }


@router.get("/subscriptions/{sub_id}", summary="One subscription")
def get_one(state: State, sub_id: str) -> dict[str, Any]:
    return _found(state, sub_id).public()


@router.patch("/subscriptions/{sub_id}", summary="Change some fields of a subscription")
def update(state: State, sub_id: str, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(SubscriptionInput.model_fields)
    if unknown:
        raise HTTPException(status_code=400, detail=f"unknown fields: {sorted(unknown)}")
    try:
        sub = apply_update(_found(state, sub_id), body)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return state.store.put(_checked(state, sub)).public()


def _set_active(state: AlertsState, sub_id: str, active: bool) -> dict[str, Any]:
    sub = apply_update(_found(state, sub_id), {"active": active})
    return state.store.put(sub).public()


@router.post("/subscriptions/{sub_id}/pause", summary="Stop matching until resumed")
def pause(state: State, sub_id: str) -> dict[str, Any]:
    return _set_active(state, sub_id, False)


@router.post("/subscriptions/{sub_id}/resume", summary="Match again")
def resume(state: State, sub_id: str) -> dict[str, Any]:
    return _set_active(state, sub_id, True)


@router.delete("/subscriptions/{sub_id}", status_code=204, summary="Delete a subscription")
def delete(state: State, sub_id: str) -> Response:
    if not state.store.delete(sub_id):
        raise HTTPException(status_code=404, detail=f"no subscription with id {sub_id!r}")
    return Response(status_code=204)


@router.get(
    "/subscriptions/{sub_id}/deliveries",
    summary="Delivery log (sent, retried, failed) and the stories alerted so far",
)
def deliveries(state: State, sub_id: str, size: int = 100) -> dict[str, Any]:
    _found(state, sub_id)
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
    sub = _found(state, sub_id)
    expected = link_token(sub.channel.secret or "", sub.id, action)
    if action not in _ACTIONS or not sub.channel.secret or not hmac.compare_digest(expected, token):
        raise HTTPException(status_code=403, detail="this link is not valid (any more)")
    return sub


@router.get(
    "/subscriptions/{sub_id}/unsubscribe",
    response_class=HTMLResponse,
    summary="The page of an email's pause / unsubscribe link: asks to confirm",
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
)
def unsubscribe(state: State, sub_id: str, action: str, token: str) -> HTMLResponse:
    sub = _link_checked(state, sub_id, action, token)
    if action == "pause":
        state.store.put(apply_update(sub, {"active": False}))
        return HTMLResponse("<!doctype html><p>Paused. Resume it in the subscriptions page.</p>")
    state.store.delete(sub.id)
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
async def stream(request: Request, state: State, sub_id: str) -> StreamingResponse:
    await asyncio.to_thread(_found, state, sub_id)
    client = _added(state, asyncio.get_running_loop(), subscription_id=sub_id)
    return StreamingResponse(
        _stream(request, state, client), media_type="text/event-stream", headers=_SSE_HEADERS
    )


@router.get("/live", summary="Server-Sent Events: newly indexed reports, with the search filters")
async def live(
    request: Request, state: State, params: Annotated[SearchParams, Depends(search_params)]
) -> StreamingResponse:
    try:
        build_query(params, datetime.now(UTC))
    except QueryError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    client = _added(state, asyncio.get_running_loop(), params=params)
    return StreamingResponse(
        _stream(request, state, client), media_type="text/event-stream", headers=_SSE_HEADERS
    )
