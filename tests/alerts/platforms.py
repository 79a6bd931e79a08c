"""Loopback stand-ins for the chat platforms, implementing the request contract and limits each
documents (the real ones cannot be reached from tests):

- Telegram Bot API `POST /bot<token>/sendMessage` (core.telegram.org/bots/api#sendmessage):
  JSON with chat_id and text; text 1-4096 characters after entity parsing; with parse_mode
  MarkdownV2 every character of `_*[]()~`>#+-=|{}.!` outside an entity must be escaped with a
  backslash, entities must be closed. Errors answer 400 `{"ok": false, "description": ...}`
  as Telegram does ("Bad Request: message is too long", "can't parse entities").
- Slack incoming webhook (api.slack.com/messaging/webhooks, block kit reference): `text` or
  `blocks`; at most 50 blocks; header text plain_text <= 150; section text <= 3000; a bad
  payload answers 400 `invalid_blocks`, success 200 `ok`.
- Mattermost incoming webhook: `text` (or attachments) required, <= 16383 characters.
- Teams incoming webhook / Workflows: a `message` with Adaptive Card attachments, <= 28 KB.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def markdown_v2_error(text: str) -> str | None:
    """Telegram's parse of a MarkdownV2 text: None when valid, else its error. Handles the
    entities the product uses (bold, italic) and rejects unescaped reserved characters."""
    open_entities: list[str] = []
    i = 0
    plain = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                return "Can't parse entities: a lone backslash at the end"
            i += 2
            plain += 1
            continue
        if c in "*_~":
            if open_entities and open_entities[-1] == c:
                open_entities.pop()
            else:
                open_entities.append(c)
            i += 1
            continue
        if c in MD2_RESERVED:
            return (
                f"Can't parse entities: character '{c}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        plain += 1
        i += 1
    if open_entities:
        return (
            f"Can't parse entities: can't find end of the entity starting with '{open_entities[0]}'"
        )
    return None


def parsed_length(text: str) -> int:
    """Characters after entity parsing (escapes and entity markers removed)."""
    out = 0
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] in "*_~":
            i += 1
            continue
        else:
            i += 1
        out += 1
    return out


def slack_error(payload: dict[str, Any]) -> str | None:
    blocks = payload.get("blocks")
    if blocks is None:
        return None if payload.get("text") else "no_text"
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return "invalid_blocks"
        elif kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text"):
                return "invalid_blocks"
            if not 0 < len(text.get("text", "")) <= 3000:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                return "invalid_blocks"
            if any(len((e or {}).get("text", "")) > 3000 for e in elements):
                return "invalid_blocks"
        else:
            return "invalid_blocks"
    return None


class Platforms:
    """One loopback server answering as Telegram (/bot.../sendMessage), Slack (/slack/...),
    Mattermost (/hooks/...) and Teams (/teams/...); keeps what it accepted and refused.
    `fail_next` answers that many requests 500 first (a platform's bad minute)."""

    TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def __init__(self) -> None:
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[tuple[str, str]] = []
        self.fail_next = 0
        self.limit_next = 0  # answered 429 "wait retry_after_s", as each platform says it
        self.retry_after_s = 3
        self.lock = threading.Lock()
        self.url = ""

    def answer(
        self, path: str, body: bytes
    ) -> tuple[int, bytes] | tuple[int, bytes, dict[str, str]]:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                return 500, b'{"ok":false,"description":"Internal Server Error"}'
            if self.limit_next:
                self.limit_next -= 1
                wait = self.retry_after_s
                if path.startswith("/bot"):  # Telegram: in the answer's parameters
                    reply = {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {wait}",
                        "parameters": {"retry_after": wait},
                    }
                    return 429, json.dumps(reply).encode()
                return 429, b"rate_limited", {"Retry-After": str(wait)}  # Slack and the others
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, b"invalid_payload"
        if path.startswith("/bot"):
            return self._telegram(path, payload)
        if path.startswith("/slack/"):
            error = slack_error(payload)
        elif path.startswith("/hooks/"):
            text = payload.get("text") or ""
            error = None if 0 < len(text) <= 16383 else "text missing or over 16383 characters"
        elif path.startswith("/teams/"):
            error = None if len(body) <= 28 * 1024 and payload.get("attachments") else "bad card"
        else:
            return 404, b"not found"
        with self.lock:
            if error:
                self.refused.append((path, error))
                return 400, error.encode()
            self.accepted.append((path, payload))
        return 200, b"ok"

    def _telegram(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        if path != f"/bot{self.TOKEN}/sendMessage":
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        text = payload.get("text") or ""
        error = None
        if payload.get("parse_mode") == "MarkdownV2":
            error = markdown_v2_error(text)
        length = parsed_length(text) if payload.get("parse_mode") else len(text)
        if error is None and not 0 < length <= 4096:
            error = "message is too long" if length else "message text is empty"
        if len(text) > 4096:  # stricter than Telegram: the product measures escaped text
            error = error or "message is too long"
        with self.lock:
            if error:
                self.refused.append((path, error))
                reply = {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}
                return 400, json.dumps(reply).encode()
            self.accepted.append((path, payload))
        return 200, b'{"ok":true,"result":{"message_id":1}}'


@contextmanager
def platforms() -> Iterator[Platforms]:
    state = Platforms()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, reply, *extra = state.answer(self.path, body)
            self.send_response(status)
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
