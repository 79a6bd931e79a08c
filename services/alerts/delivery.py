"""Webhook delivery: signed POSTs, retried with exponential backoff and jitter, dead-lettered
after the last attempt; every attempt goes to the subscription's delivery log.

Signature: header `X-Cwatch-Signature: sha256=<hex>` = HMAC-SHA256(secret, "<timestamp>.<body>")
with `X-Cwatch-Timestamp: <unix seconds>`; receivers check both (and refuse old timestamps).
Webhook URLs pass the ingestor's SSRF policy, and the request goes to the address that was
checked (no second DNS lookup a rebinding attacker could answer differently).

A receiver is hostile input too: each attempt runs under one total deadline (connect, send
and response together; see services/common/deadline.py), at most `max_response_bytes` of the answer are read
(the rest is never fetched: the connection is closed), and no exception of one delivery
leaves `deliver`: it ends as sent, or as a dead letter with the reason.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from schemas.alert import Alert
from schemas.deadletter import DeadLetter, Stage
from services.alerts import metrics
from services.alerts.health import ChannelHealth
from services.alerts.models import Subscription, check_webhook_url
from services.common.deadline import deadline, deadline_transport
from services.common.netguard import BlockedAddress, NetPolicy
from services.common.redact import mask_text, webhook_secrets

log = logging.getLogger(__name__)


class Abandoned(Exception):  # noqa: N818 - a signal, not an error
    """The service is stopping: leave the delivery unfinished (it is redone after a restart)."""


SIGNATURE_HEADER = "X-Cwatch-Signature"
TIMESTAMP_HEADER = "X-Cwatch-Timestamp"
ALERT_ID_HEADER = "X-Cwatch-Alert-Id"
USER_AGENT = "caucasus-watch-alerts/1"

# Failures that waiting will not cure: the URL is unusable or its address is refused.
REFUSED: tuple[type[Exception], ...] = (
    BlockedAddress,
    ConnectionError,
    ValueError,
    httpx.InvalidURL,
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300.0
) -> bool:
    """What a receiver does; used by the tests and offered to Python receivers."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(alert: Alert, sub: Subscription) -> bytes:
    data = {
        "alert": alert.model_dump(mode="json"),
        "subscription": {"id": sub.id, "name": sub.name},
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_RETRY_AFTER_JSON = re.compile(rb'"retry_after"\s*:\s*(\d{1,6})')


def retry_after(header: str | None, body_head: bytes) -> float | None:
    """Seconds a 429 asks to wait: the Retry-After header (Slack, Teams, Mattermost) or
    Telegram's `parameters.retry_after`; None when it does not say (or says a date)."""
    if header and header.strip().isdigit():
        return float(header.strip())
    found = _RETRY_AFTER_JSON.search(body_head)
    return float(found.group(1)) if found else None


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before retry `attempt` (1 = first retry): exponential, capped, equal jitter."""
    ceiling = min(cap_s, base_s * 2 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def _pinned(url: str, host_ip: str) -> str:
    parts = urlsplit(url)
    host = f"[{host_ip}]" if ":" in host_ip else host_ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass
class Outcome:
    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None


DeliveryLogger = Callable[[str, str, str, str, int, int | None, str | None], None]
"""(subscription_id, alert_id, channel, outcome, attempt, status, error)."""


class WebhookSender:
    def __init__(
        self,
        policy: NetPolicy,
        log_delivery: DeliveryLogger,
        dead_letter: Callable[[DeadLetter], None],
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 5.0,
        deadline_s: float = 10.0,
        max_response_bytes: int = 64 * 1024,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        health: ChannelHealth | None = None,
    ) -> None:
        self.policy = policy
        self.log_delivery = log_delivery
        self.dead_letter = dead_letter
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.health = health or ChannelHealth()
        self._asked_wait = threading.local()  # a 429's Retry-After, for this thread's next wait
        self.deadline_s = deadline_s
        self.max_response_bytes = max_response_bytes
        self.client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            transport=transport or deadline_transport(),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # no proxy variables, no .netrc credentials sent to receivers
        )

    def close(self) -> None:
        self.client.close()

    def _attempt(self, url: str, secret: str, alert: Alert, body: bytes) -> tuple[int | None, str]:
        """(status, error); status 2xx is success. Refused URLs raise one of REFUSED."""
        timestamp = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            ALERT_ID_HEADER: alert.alert_id,
        }
        return self.post_json(url, body, headers)

    def post_json(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        """One POST of a JSON body under the total deadline, to the address the policy checked
        (webhooks and the chat platforms' webhooks and APIs alike)."""
        with deadline(self.deadline_s):
            return self._post(url, body, headers)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        check_webhook_url(url)  # a stored URL from before the rules were tightened
        addresses = self.policy.check_url(url)
        parts = urlsplit(url)
        request = self.client.build_request(
            "POST",
            _pinned(url, str(addresses[0])),
            content=body,
            headers={
                "Host": parts.netloc.rsplit("@", 1)[-1],
                "Content-Type": "application/json",
                **headers,
            },
            extensions={"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {},
        )
        try:
            response = self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        try:
            head = self._drain(response)
        finally:
            response.close()  # unread rest: httpcore drops the connection instead of reusing it
        if 200 <= response.status_code < 300:
            return response.status_code, ""
        if response.status_code == 429:
            self._asked_wait.seconds = retry_after(response.headers.get("Retry-After"), head)
        said = head[:300].decode("utf-8", "replace").strip() if head else ""
        # The answer's start is the reason people need (Telegram: "can't parse entities").
        return response.status_code, f"HTTP {response.status_code}" + (f": {said}" if said else "")

    def _drain(self, response: httpx.Response) -> bytes:
        """Read at most max_response_bytes of the answer (raw: never decompressed), so a
        keep-alive connection can be reused after a small one; the status is all that counts,
        so a body cut short or too slow does not turn an answer into a failure. Answers the
        first bytes read (for the reason of a refusal)."""
        read = 0
        head = b""
        try:
            for chunk in response.iter_raw():
                if len(head) < 300:
                    head += chunk[: 300 - len(head)]
                read += len(chunk)
                if read >= self.max_response_bytes:
                    break
        except httpx.HTTPError:
            pass
        return head

    def deliver(self, sub: Subscription, alert: Alert) -> Outcome:
        """Sent, or retried and then dead-lettered; never raises for anything the receiver,
        its URL or the network does. Only a dead letter that cannot be written raises (the
        caller must then keep the alert's offset uncommitted)."""
        url, secret = sub.channel.url or "", sub.channel.secret or ""
        # The URL may be the receiver's bearer secret (Slack-style), and so is the HMAC key:
        # no error text leaves this method (delivery log, dead letter, log line) with either.
        hidden = (*webhook_secrets(url), secret)
        body = payload(alert, sub)
        return self.retry(
            sub,
            alert,
            "webhook",
            lambda: self._attempt(url, secret, alert, body),
            url,
            hidden=hidden,
        )

    def retry(
        self,
        sub: Subscription,
        alert: Alert,
        channel: str,
        attempt_once: Callable[[], tuple[int | None, str]],
        target: str,
        done_outcome: str = "sent",
        hidden: tuple[str, ...] = (),
    ) -> Outcome:
        """The one retry loop of every pushed channel: `attempt_once` answers (status, error),
        error "" on success, or raises one of REFUSED when waiting cannot help. Retried with
        backoff, then dead-lettered with the reason; every attempt goes to the delivery log.
        `hidden`: secrets of this channel (URL parts, keys) masked in every error text."""
        status: int | None = None
        error = ""
        attempt = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                status, error = attempt_once()
            except REFUSED as exc:
                status = None
                error = mask_text(f"refused: {type(exc).__name__}: {exc}", *hidden)
                # An address the policy refuses will not become allowed by waiting.
                self.log_delivery(sub.id, alert.alert_id, channel, "failed", attempt, None, error)
                break
            except Abandoned:
                raise
            except Exception as exc:  # anything else is one failed attempt, never a dead worker
                log.warning(
                    "%s attempt failed unexpectedly",
                    channel,
                    extra={
                        "subscription": sub.id,
                        "trace": mask_text(traceback.format_exc(), *hidden),
                    },
                )
                status, error = None, f"{type(exc).__name__}: {exc}"
            error = mask_text(error, *hidden) if error else error
            if not error:
                metrics.DELIVERIES.labels(channel=channel, outcome=done_outcome).inc()
                self.log_delivery(
                    sub.id, alert.alert_id, channel, done_outcome, attempt, status, None
                )
                self.health.succeeded(sub.id, channel)
                return Outcome(True, attempt, status)
            if attempt < self.max_attempts:
                metrics.DELIVERIES.labels(channel=channel, outcome="retried").inc()
                self.log_delivery(
                    sub.id, alert.alert_id, channel, "retried", attempt, status, error
                )
                delay = backoff_delay(attempt, self.backoff_s, self.backoff_max_s, self.rng)
                asked = getattr(self._asked_wait, "seconds", None)
                self._asked_wait.seconds = None
                if asked:  # a rate limit says how long: waited, up to the longest backoff
                    delay = max(delay, min(asked, self.backoff_max_s))
                self.sleep(delay)
            else:
                self.log_delivery(sub.id, alert.alert_id, channel, "failed", attempt, status, error)
        metrics.DELIVERIES.labels(channel=channel, outcome="failed").inc()
        metrics.DEAD_LETTERS.labels(stage="delivery").inc()
        self.dead_letter(
            DeadLetter.of(
                Stage.DELIVERY,
                f"{channel} {mask_text(target, *hidden)[:300]} failed after {attempt} attempt(s): "
                f"{error}",
                alert.model_dump_json(),
                error_type=f"{channel}_failed",
                source=sub.id,
                original_key=alert.alert_id,
                attempts=max(attempt, 1),
            )
        )
        if self.health.failed(sub.id, channel, error):
            self.log_delivery(
                sub.id, alert.alert_id, channel, "channel_failing", attempt, status, error
            )
        return Outcome(False, attempt, status, error)
