"""A real SMTP server on loopback (aiosmtpd) for the email tests: keeps every message it
accepted (parsed) and can refuse the next ones with given replies, or run a hook on receipt."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next: list[str] = []  # e.g. "451 4.3.0 try again later"
        self.on_receive: Callable[[EmailMessage], None] | None = None
        self.lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = 0
        self.peers: list[Any] = []  # the client's address of each accepted message
        self.envelopes: list[list[str]] = []  # the RCPT TO addresses of each accepted message
        self.raw: list[bytes] = []  # each accepted message as received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            if self.refuse_next:
                return self.refuse_next.pop(0)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
            self.peers.append(session.peer)
            self.envelopes.append(list(envelope.rcpt_tos))
            self.raw.append(bytes(envelope.content))
        if self.on_receive is not None:
            self.on_receive(msg)
        return "250 2.0.0 Message accepted for delivery"

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(box: Mailbox | None = None, **options: Any) -> Iterator[Mailbox]:
    """A server on a free port, or (given `box`) on the box's port again: a restart.
    `options` go to aiosmtpd's Controller (tls_context, require_starttls, authenticator...)."""
    box = box or Mailbox()
    box.port = box.port or _free_port()
    controller = Controller(box, hostname=box.host, port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
