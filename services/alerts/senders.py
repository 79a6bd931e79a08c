"""Every pushed channel behind one call, `ChannelSenders.deliver(sub, alert)`: the webhook, email
(immediate, or queued for the subscription's digest), Telegram, Slack, Mattermost and Teams.
Each attempt is bounded (the webhooks' total deadline; SMTP under its own); all share the one
retry loop (WebhookSender.retry: backoff, dead letter with the reason, delivery log, failing
channels reported), and each runs on its subscription's lane (dispatch.py), so a slow or
broken channel holds only its own subscription's alerts.

Not apprise: it posts to the platforms' fixed hosts with its own HTTP session, which would skip
the SSRF policy (the address checked is the one connected to), the total deadline and the
answer cap every other outgoing request here has. The formats are small and pure
(chatformat.py), tested against loopback servers that implement each platform's contract.
"""

from __future__ import annotations

import io
import json
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from schemas.alert import Alert
from services.alerts import chatformat, emailmsg, metrics
from services.alerts.channelconfig import Schedule
from services.alerts.delivery import REFUSED, Outcome, WebhookSender
from services.alerts.emailmsg import RenderedStory, StoryItem
from services.alerts.mimewrite import OutgoingEmail
from services.alerts.models import ChannelKind, Subscription
from services.alerts.settings import AlertsSettings
from services.common.redact import mask_webhook_url, webhook_secrets

log = logging.getLogger(__name__)

VERSION_FIELDS = ["report_id", "story_id", "headline", "url", "source", "published"]
VERSION_FIELDS += ["ingested_at", "figures"]


class PermanentSMTPError(ValueError):
    """The server refused for good (5xx): retrying cannot help (a ValueError: REFUSED)."""


class _DeadlineReader(io.RawIOBase):
    """The SMTP reply stream, each recv bounded by what is left of the deadline: a server
    trickling a reply a byte at a time never trips a per-read timeout, but it trips this."""

    def __init__(self, smtp: _BoundedSMTP) -> None:
        self.smtp = smtp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.smtp._clamp()
        sock = self.smtp.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        return int(sock.recv_into(buffer))


class _BoundedSMTP(smtplib.SMTP):
    """smtplib with one total deadline: every command, and every read of a reply, waits at
    most what is left of it (smtplib alone only bounds each socket operation)."""

    deadline_at = float("inf")

    def _clamp(self) -> None:
        left = self.deadline_at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the SMTP exchange's total deadline has passed")
        if self.sock is not None:
            self.sock.settimeout(min(self.timeout, left))

    def send(self, s: Any) -> None:
        self._clamp()
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        self._clamp()
        if self.file is None and self.sock is not None:  # smtplib's own: makefile('rb')
            self.file = io.BufferedReader(_DeadlineReader(self))
        return super().getreply()


class _BoundedSMTPSSL(smtplib.SMTP_SSL, _BoundedSMTP):
    pass


class SmtpMailer:
    """Sends through a pool of SMTP connections kept open between emails (a TLS handshake and
    login per email would cap the rate): a send takes the connection used last, or opens one
    when all are busy (as many as emails are sent at once: `alerts_email_workers`), and gives
    it back after; one unused for IDLE_S is closed instead of reused."""

    IDLE_S = 20.0

    def __init__(self, settings: AlertsSettings) -> None:
        self.s = settings
        self._idle: list[tuple[_BoundedSMTP, float]] = []  # (connection, last used), LIFO
        self._open: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()

    @property
    def sender(self) -> str:
        return self.s.alerts_smtp_from

    @property
    def domain(self) -> str:
        address = parseaddr(self.s.alerts_smtp_from)[1]
        return address.rsplit("@", 1)[-1] if "@" in address else "cwatch.invalid"

    def _tls(self) -> ssl.SSLContext:
        """Certificate and host name checked, always; against a private CA when configured."""
        return ssl.create_default_context(cafile=self.s.alerts_smtp_ca_file)

    def _connect(self, deadline_at: float) -> _BoundedSMTP:
        s = self.s
        timeout = max(0.001, min(s.alerts_smtp_timeout_s, deadline_at - time.monotonic()))
        smtp: _BoundedSMTP
        if s.alerts_smtp_security == "tls":
            smtp = _BoundedSMTPSSL(timeout=timeout, context=self._tls())
        else:
            smtp = _BoundedSMTP(timeout=timeout)
        smtp.deadline_at = deadline_at  # before connecting: the greeting is bounded too
        # What smtplib's constructor would have kept: the name TLS checks the certificate for.
        smtp._host = s.alerts_smtp_host  # type: ignore[attr-defined]
        with self._lock:
            self._open.add(smtp)
        try:
            smtp.connect(s.alerts_smtp_host, s.alerts_smtp_port)
            smtp.timeout = s.alerts_smtp_timeout_s
            if s.alerts_smtp_security == "starttls":
                smtp.starttls(context=self._tls())
            if s.alerts_smtp_username:
                smtp.login(s.alerts_smtp_username, s.alerts_smtp_password.get_secret_value())
        except BaseException:
            self._drop(smtp)
            raise
        return smtp

    def _connection(self, deadline_at: float) -> tuple[_BoundedSMTP, bool]:
        """(connection, fresh): the idle one used last when used lately, else a new one."""
        stale: list[_BoundedSMTP] = []
        kept: _BoundedSMTP | None = None
        with self._lock:
            while self._idle and kept is None:
                smtp, used = self._idle.pop()
                if time.monotonic() - used < self.IDLE_S:
                    kept = smtp
                else:
                    stale.append(smtp)
        for smtp in stale:
            self._drop(smtp)
        if kept is not None:
            kept.deadline_at = deadline_at
            return kept, False
        return self._connect(deadline_at), True

    def _release(self, smtp: _BoundedSMTP) -> None:
        with self._lock:
            self._idle.append((smtp, time.monotonic()))

    def _drop(self, smtp: smtplib.SMTP) -> None:
        with self._lock:
            self._open.discard(smtp)
        try:
            smtp.close()
        except OSError:
            pass

    def send(self, email: OutgoingEmail) -> tuple[int | None, str]:
        """(status, error), error "" once the server accepted the message; a 5xx raises
        PermanentSMTPError (not retried), anything else is one failed attempt."""
        started = time.monotonic()
        deadline_at = started + self.s.alerts_smtp_deadline_s
        smtp: _BoundedSMTP | None = None
        try:
            for reuse_allowed in (True, False):
                smtp, fresh = self._connection(deadline_at)
                try:
                    # The recipients are the envelope (emailmsg: no Bcc header); a refusal
                    # leaves the session reset (RSET), usable.
                    refused = smtp.sendmail(email.sender, list(email.recipients), email.data)
                    break
                except (smtplib.SMTPServerDisconnected, ConnectionError):
                    self._drop(smtp)
                    smtp = None
                    if fresh or not reuse_allowed:
                        raise
                    # The server closed the kept connection while it was idle: a new one.
            if smtp is not None:
                self._release(smtp)
            if refused:  # some addresses only: the others have it, a retry would resend
                log.warning(
                    "email refused for some recipients",
                    extra={"refused": {k: v[0] for k, v in refused.items()}},
                )
        except smtplib.SMTPRecipientsRefused as exc:
            if smtp is not None:  # the session was reset (RSET): usable
                self._release(smtp)
            codes = [code for code, _ in exc.recipients.values()]
            reason = f"SMTP recipients refused: {exc.recipients}"[:500]
            if all(code >= 500 for code in codes):
                raise PermanentSMTPError(reason) from None
            return min(codes), reason
        except smtplib.SMTPResponseException as exc:
            if smtp is not None:
                self._release(smtp)
            reason = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500]
            if exc.smtp_code >= 500:
                raise PermanentSMTPError(reason) from None
            return exc.smtp_code, reason
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out, TLS
            if smtp is not None:
                self._drop(smtp)
            return None, f"{type(exc).__name__}: {exc}"[:500]
        finally:
            metrics.DELIVERY_SECONDS.labels(channel="email").observe(time.monotonic() - started)
        return 250, ""

    def close(self) -> None:
        with self._lock:
            connections, self._open, self._idle = list(self._open), set(), []
        for smtp in connections:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


Versions = Callable[[Sequence[str]], list[dict[str, Any]]]
"""Report ids -> the reports' sources and figures (oldest first); [] when unreachable."""


class VersionCache:
    """Reports read for emails, by id, for `ttl_s`: a report that matches many subscriptions
    is read once for all their emails, not once each, even when their lanes ask for it at the
    same moment (the first asks Elasticsearch; the others wait for its answer: `claim`)."""

    def __init__(self, ttl_s: float = 60.0, max_items: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._reading: dict[str, threading.Event] = {}  # ids being read, and the read's end
        self._lock = threading.Lock()

    def get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for report_id in ids:
                hit = self._items.get(report_id)
                if hit is not None and now - hit[0] < self.ttl_s:
                    found[report_id] = hit[1]
        return found

    def claim(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any]], list[str], list[threading.Event]]:
        """(cached, ids the caller reads and must `release`, reads by others to wait for)."""
        found = self.get(ids)
        mine: list[str] = []
        theirs: list[threading.Event] = []
        with self._lock:
            for report_id in ids:
                if report_id in found:
                    continue
                reading = self._reading.get(report_id)
                if reading is not None:
                    theirs.append(reading)
                    continue
                self._reading[report_id] = threading.Event()
                mine.append(report_id)
        return found, mine, list({id(e): e for e in theirs}.values())

    def release(self, ids: Sequence[str]) -> None:
        with self._lock:
            for report_id in ids:
                reading = self._reading.pop(report_id, None)
                if reading is not None:
                    reading.set()

    def put(self, docs: Sequence[dict[str, Any]]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._items) + len(docs) > self.max_items:
                self._items = {k: v for k, v in self._items.items() if now - v[0] < self.ttl_s}
                if len(self._items) + len(docs) > self.max_items:
                    self._items.clear()
            for doc in docs:
                self._items[str(doc.get("report_id"))] = (now, doc)


def _order(doc: dict[str, Any]) -> str:
    return str(doc.get("published") or doc.get("ingested_at") or "")


class StoryVersions:
    """Report ids -> the reports' sources and figures (oldest first), through a VersionCache.
    `wait_s`: the longest wait for another lane's read of the same reports (its search is
    bounded by the client's timeout; past this, the email goes out without them)."""

    def __init__(
        self,
        es: Any,
        alias: str,
        limit: int = emailmsg.MAX_VERSIONS,
        cache: VersionCache | None = None,
        wait_s: float = 10.0,
    ) -> None:
        self.es = es
        self.alias = alias
        self.limit = limit
        self.cache = cache or VersionCache()
        self.wait_s = wait_s

    def __call__(self, report_ids: Sequence[str]) -> list[dict[str, Any]]:
        found = self._read(list(dict.fromkeys(report_ids))[-self.limit :])
        # Oldest first, by the report's own dates (sorted here: the mapping keeps no doc
        # values for them, and a search sorted on them fails).
        return sorted(found.values(), key=_order)

    def prefetch(self, report_ids: Sequence[str]) -> None:
        """Read (one search per thousand) the reports a batch of alerts will ask for, so their
        lanes find them cached instead of each asking on its own."""
        ids = list(dict.fromkeys(report_ids))
        for start in range(0, len(ids), 1000):
            self._read(ids[start : start + 1000])

    def _read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        found, mine, theirs = self.cache.claim(ids)
        if mine:
            try:
                resp = self.es.search(
                    index=self.alias,
                    query={"ids": {"values": mine}},
                    source_includes=VERSION_FIELDS,
                    size=len(mine),
                )
                docs = [hit["_source"] for hit in resp["hits"]["hits"]]
                self.cache.put(docs)
                found.update((str(d.get("report_id")), d) for d in docs)
            except Exception:  # the email goes out with what the alert says
                log.warning("story versions not read for an email", exc_info=True)
            finally:
                self.cache.release(mine)
        if theirs:
            waited_until = time.monotonic() + self.wait_s
            for reading in theirs:
                reading.wait(max(0.0, waited_until - time.monotonic()))
            found.update(self.cache.get([i for i in ids if i not in found]))
        return found


def es_versions(
    es: Any, alias: str, limit: int = emailmsg.MAX_VERSIONS, cache: VersionCache | None = None
) -> StoryVersions:
    return StoryVersions(es, alias, limit, cache)


class RenderCache:
    """A story's rendered part of an email, for `ttl_s` (as long as its reports are cached):
    a story matched by many subscriptions is rendered once for all their emails. Keyed by what
    the alert says of the story, report ids included, so a new version renders anew."""

    def __init__(self, ttl_s: float = 60.0, max_items: int = 2_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[tuple[Any, ...], tuple[float, RenderedStory]] = {}
        self._lock = threading.Lock()

    def get(self, alert: Alert, versions: Versions) -> RenderedStory:
        key = (alert.story_id, tuple(alert.report_ids), alert.headline, alert.url, alert.count)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        item = story_item(alert, versions)
        rendered = emailmsg.render_story(item)
        if not item.versions:  # the reports were not read: rendered now, read again next time
            return rendered
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items = {k: v for k, v in self._items.items() if now - v[0] < self.ttl_s}
                if len(self._items) >= self.max_items:
                    self._items.clear()
            self._items[key] = (now, rendered)
        return rendered


def story_item(alert: Alert, versions: Versions) -> StoryItem:
    return StoryItem(
        story_id=alert.story_id,
        headline=alert.headline,
        url=alert.url,
        count=alert.count,
        versions=versions(alert.report_ids),
    )


class ChannelSenders:
    def __init__(
        self,
        settings: AlertsSettings,
        webhooks: WebhookSender,
        mailer: SmtpMailer,
        versions: Versions,
        queue_digest: Callable[[str, Alert, datetime], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefetch: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.webhooks = webhooks
        self.mailer = mailer
        self.versions = versions
        self.queue_digest = queue_digest
        self.clock = clock
        self.prefetch = prefetch
        self.stories = RenderCache()

    def prepare(self, batch: Sequence[tuple[Subscription, Alert]]) -> None:
        """Before a batch of alerts goes to its lanes: the reports its immediate emails show,
        read in one request (a report matched by many subscriptions, once for all)."""
        if self.prefetch is None:
            return
        ids = [
            report_id
            for sub, alert in batch
            if sub.channel.kind == ChannelKind.EMAIL
            and sub.channel.email is not None
            and sub.channel.email.schedule == Schedule.IMMEDIATE
            for report_id in alert.report_ids[-emailmsg.MAX_VERSIONS :]
        ]
        if ids:
            self.prefetch(ids)

    def rendered(self, alert: Alert) -> RenderedStory:
        return self.stories.get(alert, self.versions)

    def deliver(self, sub: Subscription, alert: Alert) -> Outcome:
        kind = sub.channel.kind
        if kind == ChannelKind.WEBHOOK:
            return self.webhooks.deliver(sub, alert)
        if kind == ChannelKind.EMAIL:
            return self._email(sub, alert)
        if kind == ChannelKind.TELEGRAM:
            return self._telegram(sub, alert)
        fmt = {
            ChannelKind.SLACK: chatformat.slack_payload,
            ChannelKind.MATTERMOST: chatformat.mattermost_payload,
            ChannelKind.TEAMS: chatformat.teams_payload,
        }[kind]
        body = json.dumps(fmt(alert, sub.name), ensure_ascii=False).encode("utf-8")
        url = sub.channel.url or ""
        return self.webhooks.retry(
            sub,
            alert,
            kind.value,
            lambda: self._timed(kind.value, lambda: self.webhooks.post_json(url, body, {})),
            mask_webhook_url(url),  # a chat webhook URL's path is its secret: the host only
            hidden=webhook_secrets(url),
        )

    def _poster(self, url: str, body: bytes) -> Callable[[], tuple[int | None, str]]:
        return lambda: self.webhooks.post_json(url, body, {})

    @staticmethod
    def _timed(channel: str, call: Callable[[], tuple[int | None, str]]) -> tuple[int | None, str]:
        started = time.monotonic()
        try:
            return call()
        finally:
            metrics.DELIVERY_SECONDS.labels(channel=channel).observe(time.monotonic() - started)

    # ---- email ----------------------------------------------------------------------------------

    def email_message(
        self,
        sub: Subscription,
        stories: Sequence[RenderedStory],
        version: str,
        story_id: str,
        subject: str,
    ) -> OutgoingEmail:
        return emailmsg.build(
            sub,
            stories,
            subject=subject,
            msg_id=emailmsg.message_id(sub.id, story_id, version, self.mailer.domain),
            sender=self.mailer.sender,
            now=self.clock(),
            public_url=self.settings.alerts_public_url,
            max_bytes=self.settings.alerts_email_max_bytes,
        )

    def _email(self, sub: Subscription, alert: Alert) -> Outcome:
        config = sub.channel.email
        assert config is not None
        if config.schedule != Schedule.IMMEDIATE:
            return self.webhooks.retry(
                sub,
                alert,
                "email",
                lambda: self._queue(sub, alert),
                "digest queue",
                done_outcome="queued",
            )
        # Built once: every attempt (and a resend after a crash) has the same Message-ID,
        # derived from (subscription, story, alert id: the story's version for this alert).
        msg = self.email_message(
            sub,
            [self.rendered(alert)],
            alert.alert_id,
            alert.story_id,
            f"[cwatch] {sub.name or 'alert'}: {alert.headline or alert.story_id}",
        )
        return self.webhooks.retry(
            sub, alert, "email", lambda: self.mailer.send(msg), f"to {len(config.to)} address(es)"
        )

    def _queue(self, sub: Subscription, alert: Alert) -> tuple[int | None, str]:
        self.queue_digest(sub.id, alert, self.clock())
        return None, ""

    # ---- Telegram -------------------------------------------------------------------------------

    def _telegram(self, sub: Subscription, alert: Alert) -> Outcome:
        config = sub.channel.telegram
        assert config is not None
        url = (
            f"{self.settings.alerts_telegram_api_url.rstrip('/')}/bot{config.bot_token}/sendMessage"
        )
        parts = chatformat.telegram_messages(alert, sub.name)
        sent = [0]  # parts already accepted: a retry goes on from the first that was not

        def attempt() -> tuple[int | None, str]:
            while sent[0] < len(parts):
                body = json.dumps(
                    {
                        "chat_id": config.chat_id,
                        "text": parts[sent[0]],
                        "parse_mode": "MarkdownV2",
                        "link_preview_options": {"is_disabled": True},
                    },
                    ensure_ascii=False,
                ).encode("utf-8")
                try:
                    status, error = self._timed("telegram", self._poster(url, body))
                except REFUSED as exc:  # refused for good; its text may quote the URL
                    raise ValueError(str(exc).replace(config.bot_token, "<token>")) from None
                if error:  # the token is in the URL: never in a reason
                    return status, error.replace(config.bot_token, "<token>")
                sent[0] += 1
            return 200, ""

        return self.webhooks.retry(sub, alert, "telegram", attempt, f"chat {config.chat_id}")
