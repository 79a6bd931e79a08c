"""One subscription, receiver or alert cannot stop delivery for the others (issue 13)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from kafka.errors import MessageSizeTooLargeError
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.topics import TopicNames
from services.alerts.delivery import WebhookSender
from services.alerts.dispatch import Dispatcher, OffsetTracker
from services.alerts.live import LiveClient, LiveHub, TooManyClients
from services.alerts.matcher import match
from services.alerts.models import Channel, Subscription, SubscriptionInput, apply_update
from services.alerts.store import AlertStore
from services.common.netguard import NetPolicy

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOSTILE_URLS = [
    "http://example.org/\x01hook",
    "http://example.org/hook\x7f",
    "http://exam\x00ple.org/",
    "http://example.org/\x85",
    "http://example.org:99999/hook",
    "http://\n@example.org/",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_webhook_urls_the_client_cannot_send_to_are_refused_where_they_enter(url: str) -> None:
    with pytest.raises(ValidationError):
        Channel(kind="webhook", url=url)
    with pytest.raises(ValidationError):  # the API's create body and the CLI
        SubscriptionInput.model_validate({"channel": {"kind": "webhook", "url": url}})
    good = Subscription(channel=Channel(kind="webhook", url="https://example.org/hook"))
    with pytest.raises(ValidationError):  # PATCH and `subscriptions update`
        apply_update(good, {"channel": {"url": url}})


class _FakeES:
    """Just enough of Elasticsearch for AlertStore.list_subscriptions."""

    def __init__(self, sources: list[dict[str, Any]]) -> None:
        self.sources = sources
        self.indices = SimpleNamespace(exists=lambda index: True, put_mapping=lambda **kw: None)
        self.cluster = SimpleNamespace(health=lambda **kw: {"status": "green"})

    def search(self, **kwargs: Any) -> dict[str, Any]:
        hits = [{"_id": s["id"], "_source": s, "sort": [i]} for i, s in enumerate(self.sources)]
        return {"hits": {"hits": hits}}


def test_a_stored_subscription_with_an_unusable_url_is_skipped_not_fatal() -> None:
    good = Subscription(channel=Channel(kind="webhook", url="https://example.org/ok"))
    bad = good.model_dump(mode="json") | {"id": "bad"}
    bad["channel"] = {**bad["channel"], "url": "https://example.org/\x01"}  # saved before the rule
    store = AlertStore(_FakeES([bad, good.model_dump(mode="json")]), "t")  # type: ignore[arg-type]
    assert [s.id for s in store.list_subscriptions()] == [good.id]


def _alert(alert_id: str, sub_id: str) -> Alert:
    return Alert(
        alert_id=alert_id,
        subscription_id=sub_id,
        report_ids=["r1"],
        story_id="st",
        count=1,
        matched_at=NOW,
    )


def _hook(sub_id: str, url: str = "http://127.0.0.1:9/hook") -> Subscription:
    return Subscription(id=sub_id, channel=Channel(kind="webhook", url=url, secret="s" * 20))


def _sender(handler: Any, letters: list[DeadLetter], **kwargs: Any) -> WebhookSender:
    return WebhookSender(
        NetPolicy(allow_loopback=True),
        log_delivery=lambda *args: None,
        dead_letter=letters.append,
        max_attempts=2,
        sleep=lambda s: None,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


@pytest.mark.parametrize(
    "failure", [httpx.InvalidURL("bad"), RuntimeError("bug"), UnicodeError("x"), KeyError("k")]
)
def test_any_exception_in_a_delivery_ends_as_a_dead_letter_with_the_reason(
    failure: Exception,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    letters: list[DeadLetter] = []
    outcome = _sender(handler, letters).deliver(_hook("s1"), _alert("a1", "s1"))
    assert not outcome.delivered
    assert len(letters) == 1 and type(failure).__name__ in letters[0].reason


def test_a_stored_url_with_a_control_character_is_dead_lettered_not_raised() -> None:
    letters: list[DeadLetter] = []
    sender = _sender(lambda request: httpx.Response(200), letters)
    sub = _hook("s1")
    sub.channel = Channel.model_construct(kind="webhook", url="http://127.0.0.1/\x01", secret="s")
    assert not sender.deliver(sub, _alert("a1", "s1")).delivered
    assert len(letters) == 1 and "control character" in letters[0].reason


def _record(offset: int, alert: Alert | bytes, partition: int = 0) -> SimpleNamespace:
    value = alert if isinstance(alert, bytes) else alert.model_dump_json().encode()
    return SimpleNamespace(topic="alert", partition=partition, offset=offset, key=None, value=value)


def test_offsets_are_committed_only_behind_finished_alerts() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        assert tracker.add("p", offset)
    assert not tracker.add("p", 3)  # re-fetched after a rebalance: not started twice
    for offset in (0, 2, 3):
        tracker.done("p", offset)
    assert tracker.committable(["p"]) == {"p": 1}
    tracker.committed({"p": 1})
    assert tracker.committable(["p"]) == {}
    tracker.done("p", 1)
    tracker.done("p", 4)
    assert tracker.committable(["p"]) == {"p": 5}
    assert tracker.committable([]) == {}  # partitions no longer assigned are not committed


class _Deliveries:
    """A fake WebhookSender.deliver: subscription "slow" blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.done: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, sub: Subscription, alert: Alert) -> None:
        if sub.id == "slow":
            self.started.set()
            self.release.wait(30)
        with self.lock:
            self.done.append(alert.alert_id)


def _dispatcher(deliver: Any, subs: dict[str, Subscription], **kw: Any) -> Dispatcher:
    return Dispatcher(
        deliver,
        lambda: subs,
        lambda ids: set(),
        kw.pop("dead_letter", lambda letter: None),
        workers=4,
        stopping=kw.pop("stopping", threading.Event()),
    )


def _wait(predicate: Any, timeout_s: float = 10.0) -> bool:
    stop = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return True
        stop.wait(0.01)
    return bool(predicate())


def test_a_slow_subscription_holds_only_its_own_alerts_and_the_commit_waits_for_it() -> None:
    deliveries = _Deliveries()
    subs = {"slow": _hook("slow"), "fast": _hook("fast")}
    dispatcher = _dispatcher(deliveries, subs)
    try:
        records = [_record(0, _alert("s0", "slow"))]
        records += [_record(i, _alert(f"f{i}", "fast")) for i in range(1, 6)]
        records += [_record(6, _alert("s6", "slow"))]
        dispatcher.route(records)
        assert deliveries.started.wait(10)
        assert _wait(lambda: len(deliveries.done) == 5)
        assert deliveries.done == ["f1", "f2", "f3", "f4", "f5"]  # while "slow" still hangs
        tp = ("alert", 0)
        assert dispatcher.tracker.committable([tp]) == {tp: 0}  # s0 is not finished
        deliveries.release.set()
        assert _wait(lambda: len(deliveries.done) == 7)
        assert deliveries.done[5:] == ["s0", "s6"]  # a subscription's alerts stay in order
        assert _wait(lambda: dispatcher.tracker.committable([tp]) == {tp: 7})
    finally:
        deliveries.release.set()
        dispatcher.close()


def test_an_alert_in_flight_is_not_started_again_when_it_is_read_again() -> None:
    deliveries = _Deliveries()
    dispatcher = _dispatcher(deliveries, {"slow": _hook("slow")})
    try:
        dispatcher.route([_record(0, _alert("a1", "slow"))])
        assert deliveries.started.wait(10)
        dispatcher.route([_record(1, _alert("a1", "slow"))])  # the matcher produced it again
        deliveries.release.set()
        assert _wait(lambda: dispatcher.tracker.committable([("alert", 0)]) == {("alert", 0): 2})
        assert deliveries.done == ["a1"]
    finally:
        deliveries.release.set()
        dispatcher.close()


def test_a_dead_letter_that_cannot_be_written_keeps_the_offset_until_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.alerts.dispatch.DEAD_LETTER_RETRY_S", 0.01)
    letters: list[DeadLetter] = []
    failures = [RuntimeError("broker away")] * 3

    def dead_letter(letter: DeadLetter) -> None:
        if failures:
            raise failures.pop()
        letters.append(letter)

    dispatcher = _dispatcher(lambda sub, alert: None, {}, dead_letter=dead_letter)
    try:
        dispatcher.route([_record(0, b"not an alert"), _record(1, b"[]")])
        tp = ("alert", 0)
        assert _wait(lambda: dispatcher.tracker.committable([tp]) == {tp: 2})
        assert [letter.error_type for letter in letters] == ["invalid_alert", "invalid_alert"]
    finally:
        dispatcher.close()


def test_unreadable_subscriptions_leave_the_records_to_be_routed_again() -> None:
    def unreadable() -> dict[str, Subscription]:
        raise ConnectionError("store away")

    dispatcher = Dispatcher(
        lambda s, a: None, unreadable, lambda ids: set(), lambda x: None, 2, threading.Event()
    )
    try:
        with pytest.raises(ConnectionError):
            dispatcher.route([_record(0, _alert("a1", "s1"))])
        assert dispatcher.tracker.in_flight() == 0  # nothing taken on: the same records again
        dispatcher.subscriptions = lambda: {}
        dispatcher.route([_record(0, _alert("a1", "s1"))])
        assert dispatcher.tracker.committable([("alert", 0)]) == {("alert", 0): 1}
    finally:
        dispatcher.close()


# ---- SSE streams ---------------------------------------------------------------------------------


def _hub(**kwargs: Any) -> LiveHub:
    return LiveHub("unused:9092", TopicNames.for_namespace("t"), None, "alias", **kwargs)  # type: ignore[arg-type]


def _stream(hub: LiveHub, loop: asyncio.AbstractEventLoop, sub_id: str) -> LiveClient:
    client = LiveClient(
        id=sub_id + str(len(hub.clients)),
        loop=loop,
        queue=asyncio.Queue(hub.queue_max),
        subscription_id=sub_id,
    )
    hub.clients[client.id] = client  # as hub.add does, without starting the Kafka thread
    return client


def test_a_stalled_sse_client_is_closed_and_freed_while_the_others_get_every_alert() -> None:
    loop = asyncio.new_event_loop()
    try:
        hub = _hub(queue_max=8)
        stalled, reader = _stream(hub, loop, "s1"), _stream(hub, loop, "s1")
        received: list[str] = []
        for i in range(50):
            hub._alert(_alert(f"a{i}", "s1").model_dump_json().encode())
            loop.run_until_complete(asyncio.sleep(0))  # the clients' event loop runs
            while not reader.queue.empty():
                received.append(reader.queue.get_nowait()[1]["alert_id"])
        assert received == [f"a{i}" for i in range(50)]
        assert stalled.closed and stalled.queue.qsize() == 1  # its backlog is gone
        assert stalled.queue.get_nowait()[0] == "overflow"
    finally:
        loop.close()


def test_sse_streams_are_capped() -> None:
    hub = _hub(max_clients=2)
    hub.start = lambda: None  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    try:
        hub.add(loop, subscription_id="a")
        hub.add(loop, subscription_id="b")
        with pytest.raises(TooManyClients):
            hub.add(loop, subscription_id="c")
    finally:
        loop.close()


# ---- matching ------------------------------------------------------------------------------------


class _Choking(Subscription):
    def search_params(self):  # type: ignore[no-untyped-def]
        raise RecursionError("the query builder choked")


def test_a_query_the_builder_chokes_on_skips_only_its_subscription() -> None:
    def msearch(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in lines[1::2]:
            if "aggs" not in body:
                out.append({"hits": {"hits": [{"_id": "r1", "_source": {"story_id": "s"}}]}})
                continue
            names = body["aggs"]["subs"]["filters"]["filters"]
            buckets = {n: {"doc_count": 1, "ids": {"buckets": [{"key": "r1"}]}} for n in names}
            out.append({"aggregations": {"subs": {"buckets": buckets}}})
        return out

    failures: list[list[str]] = []
    subs = [_Choking(id="bad"), Subscription(id="good", query="ceasefire")]
    found = match(msearch, "a", ["r1"], subs, NOW, on_error=lambda ids, why: failures.append(ids))
    assert [m.subscription_id for m in found] == ["good"] and failures == [["bad"]]


def test_a_subscription_cannot_carry_unbounded_filters() -> None:
    with pytest.raises(ValidationError):
        SubscriptionInput.model_validate({"filters": {"entity": ["x"] * 101}})
    with pytest.raises(ValidationError):
        SubscriptionInput.model_validate({"filters": {"source": ["x" * 201]}})
    SubscriptionInput.model_validate({"filters": {"entity": ["x"] * 100}})


# ---- the alert topic -----------------------------------------------------------------------------


class _Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error:
            raise self.error


class _Producer:
    """Refuses records over `limit` bytes, as kafka-python does before sending."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"", **kw: Any) -> Any:
        if len(value) > self.limit:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        self.sent.append((topic, value))
        return _Future()


def test_an_alert_the_topic_refuses_is_dead_lettered_and_the_others_are_produced() -> None:
    from elasticsearch import Elasticsearch

    from services.alerts.app import AlertsService
    from services.alerts.dedup import Decision
    from services.alerts.settings import AlertsSettings

    producer = _Producer(limit=5000)
    service = AlertsService(
        AlertsSettings(namespace="t"),
        es=Elasticsearch("http://127.0.0.1:1"),
        producer=producer,  # type: ignore[arg-type]
    )
    try:
        big = _alert("big", "s1").model_copy(update={"headline": "x" * 10_000})
        small = _alert("small", "s1")
        out = service._emit(Decision(alerts=[(big, "every"), (small, "every")]), {})
        assert [a.alert_id for a in out] == ["small"]
        topics = service.topics
        assert [t for t, _ in producer.sent] == [topics.alert, topics.deadletter]
        letter = DeadLetter.model_validate_json(producer.sent[1][1])
        assert letter.error_type == "alert_not_produced" and letter.original_key == "big"
    finally:
        service.delivery_log.close()
        service.dispatcher.close()


def test_an_alert_carries_a_bounded_headline_and_url() -> None:
    from services.alerts.matcher import _match_of

    doc = {"_id": "r1", "_source": {"headline": "h" * 1_000_000, "url": "u" * 100_000}}
    found = _match_of(doc, "s1")
    assert len(found.headline) <= 1000 and found.url is None


def test_lanes_closed_mid_job_drop_the_rest_quietly() -> None:
    from services.alerts.dispatch import Lanes

    lanes = Lanes(2)
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def job(i: int) -> Any:
        def run() -> None:
            started.set()
            release.wait(10)
            ran.append(i)

        return run

    lanes.submit("s", job(1))
    lanes.submit("s", job(2))
    assert started.wait(10)
    lanes.close()
    lanes.submit("s", job(3))  # after close: dropped, no error
    release.set()
    assert _wait(lambda: ran == [1]) and lanes.idle()


def test_a_stuck_smtp_server_holds_only_the_email_share_of_the_workers() -> None:
    from services.alerts.dispatch import Lanes

    lanes = Lanes(4, caps={"email": 2})
    release = threading.Event()
    lock = threading.Lock()
    running = {"email": 0, "most": 0}
    ran: list[str] = []

    def email(key: str) -> Any:
        def run() -> None:
            with lock:
                running["email"] += 1
                running["most"] = max(running["most"], running["email"])
            release.wait(10)  # the relay does not answer
            with lock:
                running["email"] -= 1
                ran.append(key)

        return run

    for i in range(6):  # six subscriptions' emails, each on its own lane
        lanes.submit(f"e{i}", email(f"e{i}"), "email")
    webhook_done = threading.Event()
    lanes.submit("w1", webhook_done.set, "webhook")
    assert webhook_done.wait(10)  # not behind the stuck emails: their cap left it a worker
    assert running["most"] == 2
    release.set()
    assert _wait(lambda: len(ran) == 6) and running["most"] == 2
    assert _wait(lanes.idle)
    lanes.close()
