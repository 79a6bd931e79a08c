"""Pure parts of the alert channels: configuration rules, digest slots across time zones and
DST, the platforms' formats and limits, email building and its bounds."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, time
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.alert import Alert
from services.alerts import chatformat
from services.alerts.channelconfig import EmailConfig, Schedule, digest_slot
from services.alerts.digests import by_story, plan
from services.alerts.emailmsg import StoryItem, build, link_token, message_id, render_story
from services.alerts.mimewrite import OutgoingEmail
from services.alerts.models import Channel, Subscription, apply_update
from tests.alerts.platforms import markdown_v2_error, parsed_length, slack_error


def _alert(
    headline: str, story: str = "st", reports: list[str] | None = None, count: int = 1
) -> Alert:
    return Alert(
        alert_id=f"a-{story}-{len(reports or [])}",
        subscription_id="s1",
        report_ids=reports or ["r1"],
        story_id=story,
        count=count,
        headline=headline,
        url="https://x.example/a",
        matched_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def _email_sub(**kwargs: object) -> Subscription:
    return Subscription(
        id="s1", channel=Channel(kind="email", email=EmailConfig(to=["a@example.org"], **kwargs))
    )


# ---- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel",
    [
        {"kind": "email"},
        {"kind": "email", "email": {"to": ["not an address"]}},
        {"kind": "email", "email": {"to": ["a@example.org\r\nBcc: x@evil.example"]}},
        {"kind": "email", "email": {"to": ["a@example.org"], "timezone": "Mars/Olympus"}},
        {"kind": "telegram"},
        {"kind": "telegram", "telegram": {"chat_id": "x y", "bot_token": "1:abc"}},
        {"kind": "slack"},
        {"kind": "teams", "url": "ftp://teams.example/x"},
        {"kind": "mattermost", "url": "http://chat.example/\x00"},
    ],
)
def test_a_channel_without_its_settings_or_with_bad_ones_is_refused(channel: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        Channel.model_validate(channel)


def test_secrets_of_a_channel_are_never_shown_back_and_survive_an_update() -> None:
    sub = Subscription(
        channel=Channel(
            kind="telegram",
            telegram={"chat_id": "-1001", "bot_token": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
        )
    )
    shown = sub.public()
    assert shown["channel"]["telegram"]["bot_token"] == "***"
    updated = apply_update(sub, {"name": "x", "channel": shown["channel"]})
    assert updated.channel.telegram is not None
    assert updated.channel.telegram.bot_token == "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_an_email_channel_gets_a_secret_for_its_links() -> None:
    assert _email_sub().channel.secret


# ---- digest slots -------------------------------------------------------------------------------


def test_an_hourly_digest_slot_is_the_next_top_of_the_hour() -> None:
    first = datetime(2026, 11, 23, 6, 59, 59, tzinfo=UTC)
    assert digest_slot(Schedule.HOURLY, first, time(8), "UTC") == datetime(
        2026, 11, 23, 7, tzinfo=UTC
    )
    on_the_hour = datetime(2026, 11, 23, 7, tzinfo=UTC)
    assert digest_slot(Schedule.HOURLY, on_the_hour, time(8), "UTC") == datetime(
        2026, 11, 23, 8, tzinfo=UTC
    )


def test_a_daily_digest_follows_the_local_time_across_a_dst_change() -> None:
    # Europe/Berlin: 08:00 is 07:00 UTC in winter, 06:00 UTC in summer (DST began 2026-03-29).
    before = datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert digest_slot(Schedule.DAILY, before, time(8), "Europe/Berlin") == datetime(
        2026, 3, 29, 6, tzinfo=UTC
    )
    morning = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)  # 07:30 local, before 08:00
    assert digest_slot(Schedule.DAILY, morning, time(8), "Europe/Berlin") == datetime(
        2026, 3, 27, 7, tzinfo=UTC
    )


def test_a_digest_holds_only_what_was_queued_before_its_slot() -> None:
    sub = _email_sub(schedule="hourly")
    items = [
        ("i1", datetime(2026, 11, 23, 6, 10, tzinfo=UTC), _alert("a")),
        ("i2", datetime(2026, 11, 23, 6, 50, tzinfo=UTC), _alert("b")),
        ("i3", datetime(2026, 11, 23, 7, 5, tzinfo=UTC), _alert("c")),
    ]
    assert plan(sub, items, datetime(2026, 11, 23, 6, 59, tzinfo=UTC)) is None
    digest = plan(sub, items, datetime(2026, 11, 23, 7, 30, tzinfo=UTC))
    assert digest is not None and digest.item_ids == ["i1", "i2"]
    assert plan(_email_sub(), items, datetime(2026, 11, 24, tzinfo=UTC)) is None  # immediate


def test_a_digest_shows_each_story_once_with_every_report_seen() -> None:
    merged = by_story(
        [_alert("x", "s1", ["r1"], 1), _alert("y", "s2", ["r9"]), _alert("x2", "s1", ["r2"], 2)]
    )
    assert [a.story_id for a in merged] == ["s2", "s1"]
    assert merged[1].report_ids == ["r1", "r2"] and merged[1].count == 2


# ---- chat formats -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=9000))
def test_telegram_parts_are_valid_markdown_v2_within_the_limit_whatever_the_headline(
    headline: str,
) -> None:
    parts = chatformat.telegram_messages(_alert(headline), "sub_name.1")
    assert 1 <= len(parts) <= chatformat.TELEGRAM_MAX_PARTS
    for part in parts:
        assert len(part) <= chatformat.TELEGRAM_LIMIT and parsed_length(part) > 0
        assert markdown_v2_error(part) is None, part[:200]


def test_a_telegram_match_beyond_three_messages_is_cut_and_says_so() -> None:
    parts = chatformat.telegram_messages(_alert("x" * 20_000), "n")
    assert len(parts) == 3 and parts[-1].endswith(chatformat.ELLIPSIS)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200_000).map(lambda s: s * 2))
def test_slack_payloads_pass_the_block_rules_whatever_the_headline(headline: str) -> None:
    payload = chatformat.slack_payload(_alert(headline), "n" * 300)
    assert slack_error(payload) is None
    assert len(payload["text"]) <= chatformat.SLACK_TEXT_LIMIT


def test_a_slack_alert_with_a_very_long_url_still_passes_the_block_rules() -> None:
    alert = _alert("h").model_copy(update={"url": "https://x.example/" + "a" * 4000})
    assert slack_error(chatformat.slack_payload(alert, "n")) is None


def test_teams_cards_stay_under_28_kb() -> None:
    import json

    payload = chatformat.teams_payload(_alert("ա" * 50_000), "n")
    assert len(json.dumps(payload, ensure_ascii=False).encode()) < 28 * 1024


# ---- email --------------------------------------------------------------------------------------


def test_the_message_id_depends_on_subscription_story_and_version_only() -> None:
    one = message_id("s1", "story", "v1", "example.org")
    assert one == message_id("s1", "story", "v1", "example.org")
    assert (
        len(
            {
                one,
                message_id("s2", "story", "v1", "example.org"),
                message_id("s1", "story", "v2", "example.org"),
            }
        )
        == 3
    )


def test_link_tokens_are_per_subscription_action_and_secret() -> None:
    token = link_token("secret-0123456789", "s1", "pause")
    assert token != link_token("secret-0123456789", "s1", "delete")
    assert token != link_token("secret-0123456789", "s2", "pause")
    assert token != link_token("other-0123456789x", "s1", "pause")


def test_a_huge_digest_is_bounded_and_says_what_it_left_out() -> None:
    stories = [
        StoryItem(
            f"st{i}",
            "<b>" + "h" * 300,
            None,
            1,
            [{"headline": "v" * 5000, "source": {"name": "X"}}],
        )
        for i in range(50)
    ]
    msg = _parsed(
        build(
            _email_sub(),
            [render_story(s) for s in stories],
            subject="a\nsubject with a line break",
            msg_id="<x@y>",
            sender="a@b.example",
            now=datetime(2026, 11, 23, tzinfo=UTC),
            public_url="https://c.example",
            max_bytes=8192,
        )
    )
    text = msg.get_body(("plain",)).get_content()
    assert "more stories not shown" in text and len(text) < 12_000
    assert "\n" not in str(msg["Subject"])
    page = msg.get_body(("html",)).get_content()
    assert "<b>hhh" not in page and "&lt;b&gt;hhh" in page


def test_the_cli_builds_each_channel_from_its_options() -> None:
    from services.alerts.cli import _channel
    from services.cli import build_parser

    def channel(*argv: str) -> Channel:
        args = build_parser().parse_args(["subscriptions", "create", "q", *argv])
        return Channel.model_validate(_channel(args))

    daily = channel(
        "--email",
        "a@example.org",
        "--schedule",
        "daily",
        "--daily-at",
        "07:30",
        "--timezone",
        "Asia/Yerevan",
    )
    assert daily.email is not None and daily.email.daily_at == time(7, 30)
    assert channel("--slack", "https://hooks.slack.com/services/T/B/X").kind == "slack"
    telegram = channel("--telegram-chat", "@cwatch_alerts", "--telegram-token", "1:" + "A" * 30)
    assert telegram.telegram is not None and telegram.telegram.chat_id == "@cwatch_alerts"


def _parsed(out: OutgoingEmail) -> EmailMessage:
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=400
)  # any Unicode but lone surrogates: line breaks, NULs, RTL marks, emoji


@settings(max_examples=60, deadline=None)
@given(headline=_TEXT, name=_TEXT, source=_TEXT)
def test_an_alert_email_is_valid_smtp_data_and_reads_back_whatever_the_report_says(
    headline: str, name: str, source: str
) -> None:
    sub = _email_sub()
    sub.name = name
    story = StoryItem(
        "st1",
        headline,
        "https://news.example/a?b=1&c=2",
        2,
        [{"headline": headline + "x" * 300, "source": {"name": source, "country": "AM"}}],
    )
    out = build(
        sub,
        [render_story(story)],
        subject=f"[cwatch] {name}: {headline}",
        msg_id="<x@y.example>",
        sender="Алерты cwatch <alerts@cwatch.example>",
        now=datetime(2026, 11, 23, tzinfo=UTC),
        public_url="https://c.example",
        max_bytes=8192,
    )
    lines = out.data.split(b"\r\n")
    assert b"\n" not in out.data.replace(b"\r\n", b"") and b"\r" not in out.data.replace(
        b"\r\n", b""
    )  # CRLF line ends only: what SMTP servers count lines by
    assert max(len(line) for line in lines) <= 998  # RFC 5322 2.1.1
    assert out.data.isascii() and out.recipients == ("a@example.org",)
    msg = _parsed(out)
    assert not msg.defects and msg["Subject"] == chatformat.cut(
        " ".join(f"[cwatch] {name}: {headline}".split()), 200
    )
    assert msg["From"].addresses[0].display_name == "Алерты cwatch" and msg["Bcc"] is None
    text = msg.get_body(("plain",)).get_content()
    if headline.strip():
        assert " ".join(headline.split())[:20] in " ".join(text.split())
    assert "Unsubscribe: https://c.example/v1/subscriptions/" in text


def test_the_list_unsubscribe_header_is_the_bare_link_as_rfc_2369_wants() -> None:
    sub = _email_sub()
    sub.id = "s" * 60  # a long link: folded into RFC 2047 words before, which no client reads
    out = build(
        sub,
        [],
        subject="x",
        msg_id="<x@y>",
        sender="a@b.example",
        now=datetime(2026, 11, 23, tzinfo=UTC),
        public_url="https://cwatch.example",
        max_bytes=8192,
    )
    header = next(h for h in out.data.split(b"\r\n") if h.startswith(b"List-Unsubscribe: "))
    assert header.startswith(b"List-Unsubscribe: <https://cwatch.example/v1/subscriptions/sss")
    assert header.endswith(b">") and b"=?" not in header
