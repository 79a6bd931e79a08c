"""Email alerts against a real SMTP server on loopback (aiosmtpd): an immediate alert, a retry
after the server refused once, a permanent refusal dead-lettered, and a digest at a frozen
clock whose queue lives in the real Elasticsearch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from services.alerts.channelconfig import EmailConfig, Schedule
from services.alerts.delivery import WebhookSender
from services.alerts.digests import EmailDigests
from services.alerts.emailmsg import message_id
from services.alerts.mimewrite import OutgoingEmail
from services.alerts.models import Channel, ChannelKind, Subscription
from services.alerts.senders import ChannelSenders, SmtpMailer, VersionCache, es_versions
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from services.common.netguard import NetPolicy
from tests.alerts.smtp import Mailbox, smtp_server

pytestmark = pytest.mark.integration

VERSIONS = [
    {
        "report_id": "r-am",
        "headline": "Azerbaijani shelling near Tegh, two soldiers killed",
        "source": {"name": "Armenpress", "country": "AM", "affiliation": "state"},
        "published": "2026-11-23T06:00:00+00:00",
        "figures": [{"kind": "killed", "value": 2, "text": "two", "claimant": "Armenian MoD"}],
    },
    {
        "report_id": "r-az",
        "headline": "Armenian provocation <script>alert(1)</script> repelled",
        "source": {"name": "APA", "country": "AZ", "affiliation": "pro-government"},
        "published": "2026-11-23T06:30:00+00:00",
        "figures": [],
    },
]


def _versions(ids: Sequence[str]) -> list[dict[str, Any]]:
    return [v for v in VERSIONS if v["report_id"] in ids]


def _alert(
    alert_id: str = "a1", story: str = "story-tegh", reports: Sequence[str] = ("r-am", "r-az")
) -> Alert:
    return Alert(
        alert_id=alert_id,
        subscription_id="s1",
        report_ids=list(reports),
        story_id=story,
        count=len(reports),
        headline=f"Shelling near Tegh ({story})",
        url="https://news.example/tegh",
        matched_at=datetime(2026, 11, 23, 7, tzinfo=UTC),
    )


def _sub(schedule: Schedule = Schedule.IMMEDIATE, **kwargs: Any) -> Subscription:
    return Subscription(
        id="s1",
        name="Tegh border",
        channel=Channel(
            kind=ChannelKind.EMAIL,
            email=EmailConfig(to=["analyst@example.org"], schedule=schedule, **kwargs),
        ),
    )


def _senders(
    box: Mailbox,
    letters: list[DeadLetter],
    logged: list[tuple[Any, ...]],
    queue: Any = None,
    clock: Any = None,
) -> ChannelSenders:
    settings = AlertsSettings(
        alerts_smtp_host=box.host,
        alerts_smtp_port=box.port,
        alerts_smtp_security="none",
        alerts_smtp_from="cwatch <alerts@cwatch.example>",
        alerts_public_url="https://cwatch.example",
    )
    webhooks = WebhookSender(
        NetPolicy(allow_loopback=True),
        log_delivery=lambda *line: logged.append(line),
        dead_letter=letters.append,
        max_attempts=3,
        backoff_s=0.01,
        backoff_max_s=0.02,
    )
    return ChannelSenders(
        settings,
        webhooks,
        SmtpMailer(settings),
        _versions,
        queue or (lambda *a: None),
        **({"clock": clock} if clock else {}),
    )


def test_an_immediate_email_has_both_parts_both_sides_claims_and_a_stable_message_id() -> None:
    with smtp_server() as box:
        outcome = _senders(box, [], []).deliver(_sub(), _alert())
    assert outcome.delivered
    (msg,) = box.messages
    assert msg["Message-ID"] == message_id("s1", "story-tegh", "a1", "cwatch.example")
    assert msg["To"] == "analyst@example.org" and "Tegh border" in msg["Subject"]
    assert msg["List-Unsubscribe"].startswith("<https://cwatch.example/v1/subscriptions/s1/")
    # On the wire too: the bare link in angle brackets (RFC 2369), never RFC 2047 words.
    (raw,) = box.raw
    assert b"\r\nList-Unsubscribe: <https://cwatch.example/v1/subscriptions/s1/" in raw
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert "[Armenian]" in text and "[Azerbaijani]" in text
    assert "Armenpress (AM, state)" in text and "APA (AZ, pro-government)" in text
    assert "two killed, per Armenian MoD" in text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<h4>Armenian</h4>" in page and "<h4>Azerbaijani</h4>" in page


def test_recipients_of_one_subscription_never_see_each_others_addresses() -> None:
    team = ["a@example.org", "b@example.org", "c@example.net"]
    sub = _sub()
    assert sub.channel.email is not None
    sub.channel.email.to = team
    with smtp_server() as box:
        assert _senders(box, [], []).deliver(sub, _alert()).delivered
    (msg,), (envelope,), (raw,) = box.messages, box.envelopes, box.raw
    assert sorted(envelope) == sorted(team)  # one transaction: one Message-ID, one retry state
    assert msg["To"] == "undisclosed-recipients:;" and msg["Bcc"] is None and msg["Cc"] is None
    assert not any(address.encode() in raw for address in team)


def test_an_email_refused_once_is_sent_on_the_retry_with_the_same_message_id() -> None:
    logged: list[tuple[Any, ...]] = []
    with smtp_server() as box:
        box.refuse_next = ["451 4.3.0 try again later"]
        assert _senders(box, [], logged).deliver(_sub(), _alert()).delivered
    assert [line[3] for line in logged] == ["retried", "sent"]
    assert "451" in logged[0][6]
    assert len(box.messages) == 1


def test_a_permanent_refusal_is_dead_lettered_at_once_with_the_reason() -> None:
    letters: list[DeadLetter] = []
    logged: list[tuple[Any, ...]] = []
    with smtp_server() as box:
        box.refuse_next = ["550 5.7.1 relaying denied"]
        outcome = _senders(box, letters, logged).deliver(_sub(), _alert())
    assert not outcome.delivered and not box.messages
    assert len(logged) == 1 and len(letters) == 1
    assert "550" in letters[0].reason and letters[0].error_type == "email_failed"


def test_an_unreachable_smtp_server_is_retried_then_dead_lettered() -> None:
    letters: list[DeadLetter] = []
    with smtp_server() as box:
        port = box.port
    box.port = port  # stopped: connection refused
    outcome = _senders(box, letters, []).deliver(_sub(), _alert())
    assert not outcome.delivered and outcome.attempts == 3 and len(letters) == 1


def test_a_daily_digest_goes_out_once_at_the_local_time_grouped_by_story(
    alerts_settings: AlertsSettings, es_client: Any
) -> None:
    store = AlertStore(es_client, alerts_settings.index_prefix())
    sub = _sub(Schedule.DAILY, daily_at=time(8, 0), timezone="Asia/Baku")  # UTC+4
    queued = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 05:00 in Baku
    clock = {"now": queued}
    with smtp_server() as box:
        senders = _senders(box, [], [], queue=store.queue_digest, clock=lambda: clock["now"])
        for alert in (
            _alert("a1"),
            _alert("a2", "story-tegh", ["r-am"]),
            _alert("a3", "story-other", ["r-az"]),
        ):
            assert senders.deliver(sub, alert).delivered  # queued, not sent
        assert senders.deliver(sub, _alert("a1")).delivered  # a replay: the same item
        assert not box.messages
        marks: set[str] = set()
        jobs: list[Any] = []
        digests = EmailDigests(
            store,
            senders,
            lambda: {sub.id: sub},
            lambda ids: marks & set(ids),
            lambda _k, job: jobs.append(job),
        )
        assert digests.check(datetime(2026, 11, 23, 3, 59, tzinfo=UTC)) == []  # 07:59 in Baku
        (due,) = digests.check(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))  # 08:00 in Baku
        assert due.slot == datetime(2026, 11, 23, 4, 0, tzinfo=UTC) and len(due.item_ids) == 3
        assert digests.check(datetime(2026, 11, 23, 4, 1, tzinfo=UTC)) == []  # under way: once
        for job in jobs:
            job()
        assert digests.check(datetime(2026, 11, 23, 5, 0, tzinfo=UTC)) == []  # items dropped
    (msg,) = box.messages
    assert msg["Message-ID"] == message_id("s1", "digest", due.slot.isoformat(), "cwatch.example")
    assert "2 stories" in msg["Subject"] and "08:00 +04" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    assert text.count("== Shelling near Tegh") == 2  # one section per story
    assert "[Armenian]" in text and "[Azerbaijani]" in text


def test_a_digest_already_marked_sent_is_not_sent_again(
    alerts_settings: AlertsSettings, es_client: Any
) -> None:
    """The crash after the send and the mark but before the items were dropped."""
    store = AlertStore(es_client, alerts_settings.index_prefix())
    sub = _sub(Schedule.HOURLY)
    queued = datetime(2026, 11, 23, 6, 10, tzinfo=UTC)
    with smtp_server() as box:
        senders = _senders(box, [], [], queue=store.queue_digest, clock=lambda: queued)
        senders.deliver(sub, _alert("a1"))
        slot = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
        marks = {f"digest-s1-{slot.isoformat()}"}
        jobs: list[Any] = []
        digests = EmailDigests(
            store,
            senders,
            lambda: {sub.id: sub},
            lambda ids: marks & set(ids),
            lambda _k, job: jobs.append(job),
        )
        (due,) = digests.check(slot + timedelta(minutes=1))
        for job in jobs:
            job()
        assert not box.messages
        assert digests.check(slot + timedelta(hours=2)) == []


def test_story_versions_are_read_from_the_real_index_oldest_first(
    index_reports: Any, report_alias: str, es_client: Any
) -> None:
    """Found by the email benchmark: sorting on a date field the mapping keeps without doc
    values failed every lookup, so emails went out without their sides."""
    from datetime import timedelta

    from schemas.report import FigureKind
    from services.alerts.senders import es_versions
    from tests.alerts.factories import make_report

    old = make_report(
        "rep-am-1",
        "Two soldiers killed near Tegh",
        story_id="story-tegh",
        age=timedelta(hours=3),
        figures=[(FigureKind.KILLED, 2, "Armenian MoD")],
    )
    new = make_report(
        "rep-az-1", "Provocation repelled", story_id="story-tegh", source="APA", country="AZ"
    )
    index_reports([new, old])
    versions = es_versions(es_client, report_alias)(["rep-az-1", "rep-am-1"])
    assert [v["report_id"] for v in versions] == ["rep-am-1", "rep-az-1"]
    assert versions[0]["source"]["country"] == "AM" and versions[0]["figures"][0]["value"] == 2


def test_emails_share_one_connection_and_a_server_restart_costs_no_attempt() -> None:
    logged: list[tuple[Any, ...]] = []
    with smtp_server() as box:
        senders = _senders(box, [], logged)
        for i in range(3):
            assert senders.deliver(_sub(), _alert(f"a{i}")).delivered
        assert len(set(box.peers)) == 1  # one connection, kept
    with smtp_server(box):  # restarted: the kept connection is dead
        assert senders.deliver(_sub(), _alert("a3")).delivered
    assert [line[3] for line in logged] == ["sent"] * 4  # no attempt lost to the dead one
    assert len(box.messages) == 4
    senders.mailer.close()


def test_a_report_is_read_once_for_the_emails_of_every_subscription_it_matched() -> None:
    from services.alerts.senders import es_versions

    class CountingES:
        def __init__(self) -> None:
            self.asked: list[list[str]] = []

        def search(self, **kwargs: Any) -> dict[str, Any]:
            ids = kwargs["query"]["ids"]["values"]
            self.asked.append(ids)
            return {"hits": {"hits": [{"_source": v} for v in VERSIONS if v["report_id"] in ids]}}

    es = CountingES()
    fetch = es_versions(es, "alias")
    for _ in range(5):
        assert [v["report_id"] for v in fetch(["r-az", "r-am"])] == ["r-am", "r-az"]
    assert fetch(["r-am", "r-new"])[0]["report_id"] == "r-am"
    assert es.asked == [["r-az", "r-am"], ["r-new"]]


class _CountingES:
    """Answers ids searches from VERSIONS and keeps what was asked; `before_answer` runs
    first (to hold the answer back)."""

    def __init__(self, before_answer: Any = None) -> None:
        self.asked: list[list[str]] = []
        self.before_answer = before_answer

    def search(self, **kwargs: Any) -> dict[str, Any]:
        ids = kwargs["query"]["ids"]["values"]
        self.asked.append(ids)
        if self.before_answer:
            self.before_answer()
        return {"hits": {"hits": [{"_source": v} for v in VERSIONS if v["report_id"] in ids]}}


def test_lanes_asking_for_the_same_report_at_the_same_moment_read_it_once() -> None:
    lanes = 8
    asked = threading.Semaphore(0)

    class SeenCache(VersionCache):
        def claim(self, ids: Any) -> Any:
            answer = super().claim(ids)
            asked.release()
            return answer

    def once_every_lane_asked() -> None:
        for _ in range(lanes):
            assert asked.acquire(timeout=10)

    es = _CountingES(once_every_lane_asked)
    fetch = es_versions(es, "alias", cache=SeenCache())
    got: list[list[str]] = []
    threads = [
        threading.Thread(
            target=lambda: got.append([v["report_id"] for v in fetch(["r-az", "r-am"])])
        )
        for _ in range(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert es.asked == [["r-az", "r-am"]]  # one search, the other lanes waited for its answer
    assert got == [["r-am", "r-az"]] * lanes


def test_a_batch_of_email_alerts_reads_its_reports_in_one_request() -> None:
    es = _CountingES()
    versions = es_versions(es, "alias")
    settings = AlertsSettings(alerts_smtp_host="127.0.0.1", alerts_smtp_port=9)
    webhooks = WebhookSender(NetPolicy(), lambda *a: None, lambda letter: None)
    senders = ChannelSenders(
        settings, webhooks, SmtpMailer(settings), versions, lambda *a: None,
        prefetch=versions.prefetch,
    )  # fmt: skip
    other = _sub().model_copy(update={"id": "s2"})
    senders.prepare(
        [(_sub(), _alert("a1", reports=["r-am"])), (other, _alert("a2", "st2", ["r-az"]))]
    )
    assert es.asked == [["r-am", "r-az"]]
    assert [v["report_id"] for v in versions(["r-az", "r-am"])] == ["r-am", "r-az"]
    assert len(es.asked) == 1  # the lanes found them read


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_over_starttls_or_tls_with_login_checks_the_certificate(
    security: str, tmp_path: Any
) -> None:
    import ssl

    import trustme
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    logins: list[bytes] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"cwatch",
            b"s3cret",
        )
        if ok:
            logins.append(data.login)
        return AuthResult(success=ok)

    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if security == "starttls":
        options.update(tls_context=server_tls, require_starttls=True)
    else:  # aiosmtpd only knows of TLS it started itself: AUTH is over TLS here all the same
        options.update(ssl_context=server_tls, auth_require_tls=False)
    letters: list[DeadLetter] = []
    with smtp_server(**options) as box:
        settings = AlertsSettings(
            alerts_smtp_host=box.host,
            alerts_smtp_port=box.port,
            alerts_smtp_security=security,
            alerts_smtp_ca_file=str(ca_file),
            alerts_smtp_username="cwatch",
            alerts_smtp_password="s3cret",
            alerts_smtp_from="cwatch <alerts@cwatch.example>",
        )
        webhooks = WebhookSender(
            NetPolicy(allow_loopback=True), lambda *a: None, letters.append, max_attempts=1
        )
        senders = ChannelSenders(
            settings, webhooks, SmtpMailer(settings), _versions, lambda *a: None
        )
        assert senders.deliver(_sub(), _alert()).delivered, letters
        senders.mailer.close()
        # Without the private CA the server's certificate is refused: nothing is sent.
        untrusting = settings.model_copy(update={"alerts_smtp_ca_file": None})
        strict = ChannelSenders(
            untrusting, webhooks, SmtpMailer(untrusting), _versions, lambda *a: None
        )
        assert not strict.deliver(_sub(), _alert("a2")).delivered
    assert logins == [b"cwatch"] and len(box.messages) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in letters[0].reason


def test_a_trickling_smtp_server_is_cut_off_at_the_total_deadline() -> None:
    """One byte every 0.2 s never trips the 1 s timeout of a read; the 1.5 s deadline does."""
    import socket
    import threading
    import time as clock

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 slow.example ESMTP\r\n")
            conn.recv(1024)  # EHLO
            for byte in b"250-slow.example " + b"x" * 200:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                clock.sleep(0.2)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    settings = AlertsSettings(
        alerts_smtp_host="127.0.0.1",
        alerts_smtp_port=listener.getsockname()[1],
        alerts_smtp_security="none",
        alerts_smtp_timeout_s=1.0,
        alerts_smtp_deadline_s=1.5,
    )
    mailer = SmtpMailer(settings)
    started = clock.monotonic()
    try:
        status, error = mailer.send(_sub_message())
    finally:
        stop.set()
        listener.close()
    took = clock.monotonic() - started
    assert error and status is None and took < 4, (took, error)


def _sub_message() -> OutgoingEmail:
    data = b"From: a@cwatch.example\r\nTo: b@example.org\r\nSubject: x\r\n\r\nx\r\n"
    return OutgoingEmail("<x@cwatch.example>", "a@cwatch.example", ("b@example.org",), data)


def test_the_queued_digest_items_of_a_deleted_subscription_are_dropped(
    alerts_settings: AlertsSettings, es_client: Any
) -> None:
    store = AlertStore(es_client, alerts_settings.index_prefix())
    kept, gone = _sub(Schedule.HOURLY), _sub(Schedule.HOURLY).model_copy(update={"id": "s2"})
    store.put(kept)  # paused later: not in the active list, but still stored
    at = datetime(2026, 11, 23, 6, 10, tzinfo=UTC)
    store.queue_digest(kept.id, _alert("a1"), at)
    store.queue_digest(gone.id, _alert("a2"), at)
    digests = EmailDigests(store, None, lambda: {}, lambda ids: set(), lambda _k, job: None)  # type: ignore[arg-type]
    assert digests.check(at + timedelta(hours=2)) == []
    assert set(store.digest_items()) == {kept.id}
