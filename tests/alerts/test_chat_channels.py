"""Telegram, Slack, Mattermost and Teams deliveries against loopback servers implementing each
platform's documented contract and limits (tests/alerts/platforms.py). No Kafka or
Elasticsearch: the mark only lets these tests open loopback sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from services.alerts.channelconfig import TelegramConfig
from services.alerts.delivery import WebhookSender
from services.alerts.models import Channel, ChannelKind, Subscription
from services.alerts.senders import ChannelSenders, SmtpMailer
from services.alerts.settings import AlertsSettings
from services.common.netguard import NetPolicy
from tests.alerts.platforms import Platforms, markdown_v2_error, parsed_length, platforms

pytestmark = pytest.mark.integration

LONG = ("Shelling near Lachin (2 killed) - claims differ! " * 110)[:5000]


def _alert(headline: str = LONG) -> Alert:
    return Alert(
        alert_id="a1",
        subscription_id="s1",
        report_ids=["r1"],
        story_id="story-1",
        count=3,
        headline=headline,
        url="https://news.example/a_b?c=1",
        matched_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def _senders(
    url: str,
    letters: list[DeadLetter],
    logged: list[tuple[Any, ...]],
    sleeps: list[float] | None = None,
) -> ChannelSenders:
    settings = AlertsSettings(alerts_telegram_api_url=url, alerts_allow_loopback=True)
    webhooks = WebhookSender(
        NetPolicy(allow_loopback=True),
        log_delivery=lambda *line: logged.append(line),
        dead_letter=letters.append,
        max_attempts=3,
        backoff_s=0.01,
        backoff_max_s=10.0,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )
    return ChannelSenders(settings, webhooks, SmtpMailer(settings), lambda ids: [], lambda *a: None)


def _sub(kind: ChannelKind, url: str | None = None) -> Subscription:
    telegram = (
        TelegramConfig(chat_id="-100123", bot_token=Platforms.TOKEN)
        if kind == ChannelKind.TELEGRAM
        else None
    )
    return Subscription(
        id="s1", name="Lachin (road)", channel=Channel(kind=kind, url=url, telegram=telegram)
    )


def test_a_5000_character_telegram_match_is_split_into_valid_markdown_v2_messages() -> None:
    letters: list[DeadLetter] = []
    with platforms() as stub:
        outcome = _senders(stub.url, letters, []).deliver(_sub(ChannelKind.TELEGRAM), _alert())
    assert outcome.delivered, stub.refused
    assert not stub.refused and not letters
    texts = [payload["text"] for _, payload in stub.accepted]
    assert len(texts) == 2
    assert all(len(t) <= 4096 and markdown_v2_error(t) is None for t in texts)
    assert sum(parsed_length(t) for t in texts) > 5000  # nothing of the headline lost
    assert all(
        p["parse_mode"] == "MarkdownV2" and p["chat_id"] == "-100123" for _, p in stub.accepted
    )


def test_the_telegram_stub_refuses_what_telegram_refuses() -> None:
    """The stub is the contract: unescaped reserved characters and >4096 are refused."""
    assert markdown_v2_error("Lachin.") is not None
    assert markdown_v2_error("*open bold") is not None
    assert markdown_v2_error("Lachin\\. *bold*") is None
    stub = Platforms()
    status, _ = stub.answer(
        f"/bot{Platforms.TOKEN}/sendMessage", b'{"chat_id": 1, "text": "' + b"a" * 4097 + b'"}'
    )
    assert status == 400


def test_a_telegram_retry_sends_only_the_parts_not_yet_accepted() -> None:
    letters: list[DeadLetter] = []
    with platforms() as stub:
        senders = _senders(stub.url, letters, [])
        original = stub.answer
        calls = {"n": 0}

        def flaky(path: str, body: bytes) -> tuple[int, bytes]:
            calls["n"] += 1
            if calls["n"] == 2:  # the second part fails once
                return 500, b'{"ok":false}'
            return original(path, body)

        stub.answer = flaky  # type: ignore[method-assign]
        assert senders.deliver(_sub(ChannelKind.TELEGRAM), _alert()).delivered
    assert len(stub.accepted) == 2  # part one once, part two after its retry


def test_a_revoked_bot_token_is_dead_lettered_with_the_reason_and_without_the_token() -> None:
    letters: list[DeadLetter] = []
    sub = _sub(ChannelKind.TELEGRAM)
    assert sub.channel.telegram is not None
    sub.channel.telegram.bot_token = "999:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
    with platforms() as stub:
        outcome = _senders(stub.url, letters, []).deliver(sub, _alert("short"))
    assert not outcome.delivered
    assert len(letters) == 1 and "HTTP 404" in letters[0].reason
    assert "ZZZZ" not in letters[0].reason and "ZZZZ" not in (outcome.error or "")


def test_a_5000_character_slack_match_is_split_over_valid_blocks() -> None:
    with platforms() as stub:
        sub = _sub(ChannelKind.SLACK, f"{stub.url}/slack/T0/B0/XXXX")
        assert _senders(stub.url, [], []).deliver(sub, _alert()).delivered, stub.refused
    ((_, payload),) = stub.accepted
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert payload["blocks"][0]["type"] == "header"


def test_slack_text_is_escaped() -> None:
    with platforms() as stub:
        sub = _sub(ChannelKind.SLACK, f"{stub.url}/slack/T0/B0/XXXX")
        _senders(stub.url, [], []).deliver(sub, _alert("<!channel> Lachin & Stepanakert"))
    ((_, payload),) = stub.accepted
    section = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in section and "&amp;" in section and "<!channel>" not in section


@pytest.mark.parametrize(
    "kind,path", [(ChannelKind.MATTERMOST, "/hooks/abc"), (ChannelKind.TEAMS, "/teams/wf")]
)
def test_mattermost_and_teams_get_their_own_format_within_limits(
    kind: ChannelKind, path: str
) -> None:
    with platforms() as stub:
        sub = _sub(kind, f"{stub.url}{path}")
        assert _senders(stub.url, [], []).deliver(sub, _alert(LONG * 5)).delivered, stub.refused
    ((_, payload),) = stub.accepted
    if kind == ChannelKind.TEAMS:
        card = payload["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["actions"][0]["url"].startswith("https://")
    else:
        assert len(payload["text"]) <= 16383


def test_a_chat_platform_failing_once_is_retried_then_sent() -> None:
    logged: list[tuple[Any, ...]] = []
    with platforms() as stub:
        stub.fail_next = 1
        sub = _sub(ChannelKind.SLACK, f"{stub.url}/slack/T0/B0/XXXX")
        assert _senders(stub.url, [], logged).deliver(sub, _alert("x")).delivered
    assert [line[3] for line in logged] == ["retried", "sent"]


def test_a_channel_that_keeps_failing_is_reported_once_and_others_are_unaffected() -> None:
    letters: list[DeadLetter] = []
    logged: list[tuple[Any, ...]] = []
    with platforms() as stub:
        senders = _senders(stub.url, letters, logged)
        bad = _sub(ChannelKind.SLACK, f"{stub.url}/nowhere/x")
        good = Subscription(
            id="s2", channel=Channel(kind=ChannelKind.MATTERMOST, url=f"{stub.url}/hooks/ok")
        )
        for _ in range(4):
            senders.deliver(bad, _alert("x"))
            assert senders.deliver(good, _alert("y")).delivered
    failing = [line for line in logged if line[3] == "channel_failing"]
    assert len(failing) == 1 and failing[0][0] == "s1" and failing[0][2] == "slack"
    assert len(letters) == 4


@pytest.mark.parametrize("kind", [ChannelKind.TELEGRAM, ChannelKind.SLACK])
def test_a_rate_limited_send_waits_as_long_as_the_platform_asks(kind: ChannelKind) -> None:
    sleeps: list[float] = []
    with platforms() as stub:
        stub.limit_next = 1
        url = f"{stub.url}/slack/T0/B0/XXXX" if kind == ChannelKind.SLACK else None
        assert _senders(stub.url, [], [], sleeps).deliver(_sub(kind, url), _alert("x")).delivered
    assert len(sleeps) == 1 and sleeps[0] >= 3  # not the 0.01 s backoff
