"""Secrets out of logs and dead letters: URL credentials, bearer-style webhook paths."""

from __future__ import annotations

import json
import logging

import pytest

from schemas.deadletter import DeadLetter, Stage
from services.common.dlq import encode
from services.common.logs import JsonFormatter, MaskedFormatter
from services.common.redact import mask_text, mask_url, mask_webhook_url, webhook_secrets

SLACK = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XyZsecretTOKEN0123456789"
TOKEN = "XyZsecretTOKEN0123456789"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (SLACK, "https://hooks.slack.com/services/***"),
        (
            "https://chat.example.org/hooks/h7d8f9a0b1c2d3e4f5a6b7c8d9",  # Mattermost
            "https://chat.example.org/hooks/***",
        ),
        (
            "https://discord.com/api/webhooks/123456789012345678/AbCdEf-123456789_token",
            "https://discord.com/api/webhooks/***",
        ),
        (
            "https://contoso.webhook.office.com/webhookb2/a1b2c3d4-e5f6@a1b2/IncomingWebhook/x/y",
            "https://contoso.webhook.office.com/webhookb2/***",
        ),
        ("https://user:pa55@feeds.example.org/rss", "https://***@feeds.example.org/rss"),
        (
            "https://api.example.org/v1/feed?lang=en&api_key=k3y&token=t",
            "https://api.example.org/v1/feed?lang=en&api_key=***&token=***",
        ),
        (
            "https://receiver.example/in/3f9a8c7e6d5b4a39281706f5e4d3c2b1",  # a token segment
            "https://receiver.example/in/***",
        ),
        ("https://news.example.am/2026/12/01/ceasefire-talks", None),  # an article: kept
    ],
)
def test_mask_url_keeps_what_identifies_the_receiver_and_hides_the_secret(
    url: str, masked: str | None
) -> None:
    assert mask_url(url) == (masked or url)


def test_a_webhook_url_keeps_only_scheme_host_and_port() -> None:
    assert mask_webhook_url(SLACK) == "https://hooks.slack.com/***"
    assert mask_webhook_url("http://u:p@10.0.0.1:8443/x?y=1") == "http://***@10.0.0.1:8443/***"
    assert mask_webhook_url("https://receiver.example") == "https://receiver.example"
    assert mask_webhook_url("not a url") == "***"


def test_mask_text_finds_urls_bearer_tokens_and_given_secrets_in_free_text() -> None:
    text = (
        f"POST {SLACK} failed: 404 no_service; retried with Authorization: Bearer abcdef123456; "
        "request path /services/T0AAAAAAA/B0BBBBBBB/XyZsecretTOKEN0123456789"
    )
    masked = mask_text(text, *webhook_secrets(SLACK))
    assert TOKEN not in masked and "abcdef123456" not in masked
    assert "hooks.slack.com" in masked and "404 no_service" in masked


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"msg": msg, "levelname": "WARNING", "name": "t"})
    record.__dict__.update(extra)
    return record


def test_no_log_line_carries_a_webhook_secret_whatever_formatted_it() -> None:
    try:
        raise ValueError(f"cannot post to {SLACK}")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = _record(f"delivery to {SLACK}", url=SLACK, urls=[SLACK], where={"u": SLACK})
    record.exc_info = exc_info
    line = JsonFormatter().format(record)
    assert TOKEN not in line
    assert json.loads(line)["url"] == "https://hooks.slack.com/services/***"
    plain = MaskedFormatter("%(message)s").format(_record(f"to {SLACK}"))
    assert TOKEN not in plain


def test_every_dead_letter_is_masked_when_encoded() -> None:
    letter = DeadLetter.of(
        Stage.INGEST,
        "cannot fetch https://reader:s3cretpass@feeds.example.org/private.rss: HTTP 500",
        b"payload",
        source="https://reader:s3cretpass@feeds.example.org/private.rss",
    )
    value = encode(letter).decode()
    assert "s3cretpass" not in value
    assert "feeds.example.org/private.rss" in value
