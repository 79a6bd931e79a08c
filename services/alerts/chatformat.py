"""Alert -> chat message, per platform, within each platform's documented limits. Pure.

- Telegram Bot API `sendMessage`: text of 1-4,096 characters after entity parsing, MarkdownV2
  (every reserved character outside an entity escaped with a backslash). A longer alert is
  split into at most TELEGRAM_MAX_PARTS messages, never inside an escape; the rest is cut.
  Parts are measured escaped (stricter than Telegram's after-parsing count).
- Slack incoming webhook: `text` (the notification fallback) and `blocks`: a header block
  (plain text, 150 characters), section blocks (mrkdwn, 3,000 characters each; a long
  headline is split over several), at most 50 blocks. `&`, `<`, `>` are escaped.
- Mattermost incoming webhook: `text` in Markdown, 16,383 characters per post (cut).
- Microsoft Teams incoming webhook / Workflows: a message with one Adaptive Card (1.4); a
  card over 28 KB is refused, so the headline is cut to TEAMS_TEXT_BYTES of UTF-8.
"""

from __future__ import annotations

from typing import Any

from schemas.alert import Alert

TELEGRAM_LIMIT = 4096
TELEGRAM_MAX_PARTS = 3
TELEGRAM_RESERVED = frozenset("_*[]()~`>#+-=|{}.!\\")
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_MAX_BLOCKS = 50
SLACK_TEXT_LIMIT = 3000  # the fallback text: notifications show only its start anyway
MATTERMOST_LIMIT = 16383
TEAMS_TEXT_BYTES = 20_000
ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def cut_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + ELLIPSIS


def _lines(alert: Alert, name: str) -> tuple[str, str, str]:
    """(title, headline, details) in plain text."""
    title = cut(f"cwatch alert: {name or alert.subscription_id}", 100)
    reports = "report" if alert.count == 1 else "reports"
    details = f"{alert.count} {reports} in this story"
    if alert.url:
        details += f"\n{alert.url}"
    return title, alert.headline or "(no headline)", details


# ---- Telegram ------------------------------------------------------------------------------------


def escape_md2(text: str) -> str:
    return "".join("\\" + c if c in TELEGRAM_RESERVED else c for c in text)


def _split_escaped(text: str, limit: int) -> list[str]:
    """Escaped chunks of `text`, each at most `limit` characters, an escape never split,
    preferring to break after a newline or space in the chunk's last fifth."""
    tokens = [escape_md2(c) for c in text]
    chunks: list[str] = []
    start = 0
    while start < len(tokens):
        size, end = 0, start
        while end < len(tokens) and size + len(tokens[end]) <= limit:
            size += len(tokens[end])
            end += 1
        if end < len(tokens):
            for back in range(end - 1, start + (end - start) * 4 // 5, -1):
                if tokens[back] in ("\n", " "):
                    end = back + 1
                    break
        chunks.append("".join(tokens[start:end]))
        start = end
    return chunks


def telegram_messages(alert: Alert, name: str) -> list[str]:
    """MarkdownV2 texts to send in order, each within TELEGRAM_LIMIT."""
    title, headline, details = _lines(alert, name)
    bold = f"*{escape_md2(title)}*\n"
    body = f"{headline}\n\n{details}"
    parts = _split_escaped(body, TELEGRAM_LIMIT - len(bold))  # the first part carries the title
    if len(parts) > TELEGRAM_MAX_PARTS:
        tail = escape_md2(ELLIPSIS)
        last = parts[TELEGRAM_MAX_PARTS - 1]
        while len(last) + len(tail) > TELEGRAM_LIMIT or last.endswith("\\"):
            last = last[:-1]
        parts = [*parts[: TELEGRAM_MAX_PARTS - 1], last + tail]
    parts[0] = bold + parts[0]
    return parts


# ---- Slack / Mattermost / Teams ------------------------------------------------------------------


def escape_slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert, name: str) -> dict[str, Any]:
    title, headline, details = _lines(alert, name)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title, SLACK_HEADER_LIMIT)}}
    ]
    room = SLACK_MAX_BLOCKS - 2  # the header, the details
    escaped = escape_slack(headline)
    pieces = [
        escaped[i : i + SLACK_SECTION_LIMIT] for i in range(0, len(escaped), SLACK_SECTION_LIMIT)
    ]
    # An escape (&amp;) split between two sections would show as text: move its start over.
    for i in range(len(pieces) - 1):
        amp = pieces[i].rfind("&", max(len(pieces[i]) - 5, 0))
        if amp != -1 and ";" not in pieces[i][amp:]:
            pieces[i], pieces[i + 1] = pieces[i][:amp], pieces[i][amp:] + pieces[i + 1]
    pieces = [p for p in pieces if p][:room] or ["(no headline)"]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in pieces]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": cut(escape_slack(details), SLACK_SECTION_LIMIT)}
            ],
        }
    )
    return {"text": cut(escape_slack(f"{title}: {headline}"), SLACK_TEXT_LIMIT), "blocks": blocks}


_MD_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~")


def escape_markdown(text: str) -> str:
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in text)


def mattermost_payload(alert: Alert, name: str) -> dict[str, Any]:
    title, headline, details = _lines(alert, name)
    text = f"**{escape_markdown(title)}**\n{escape_markdown(headline)}\n\n{details}"
    if len(text) > MATTERMOST_LIMIT:
        tail = f"{ELLIPSIS}\n\n{details}"
        text = text[: MATTERMOST_LIMIT - len(tail)].rstrip("\\") + tail
    return {"text": text}


def teams_payload(alert: Alert, name: str) -> dict[str, Any]:
    title, headline, details = _lines(alert, name)
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": cut_bytes(headline, TEAMS_TEXT_BYTES), "wrap": True},
            {"type": "TextBlock", "text": details.split("\n")[0], "isSubtle": True},
        ],
    }
    if alert.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": alert.url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }
