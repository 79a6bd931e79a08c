"""Alert emails (one story) and digests (many), as email.message.EmailMessage. Pure.

Each story shows every side's version side by side (source, country and affiliation,
headline, time) and the casualty claims with who made them. Everything from reports is
escaped in the HTML part; the size is bounded (stories, versions, characters) and what was
left out is said. The Message-ID is derived from (subscription, story, version), so a resend
after a crash carries the same id and mail clients show it once.

Recipients never see each other (they may be targets of what they follow): one address goes
in To; several go in Bcc (the envelope, `recipients`) under `To: undisclosed-recipients:;`,
which smtplib strips before sending. One message, not one per address: one SMTP transaction
keeps one Message-ID and one retry state, so a retry never resends to those who had it, and
the server still refuses an address alone without failing the others.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any
from urllib.parse import quote

from services.alerts.chatformat import cut
from services.alerts.models import Subscription
from services.query.sides import claims, group_by_side

MAX_STORIES = 50
MAX_VERSIONS = 12  # per story
MAX_HEADLINE = 300
MAX_CLAIMS = 20  # per story


@dataclass
class StoryItem:
    """One story of an email: what the alert said and the reports found for it."""

    story_id: str
    headline: str
    url: str | None
    count: int
    versions: list[dict[str, Any]] = field(default_factory=list)  # report sources, oldest first


def message_id(sub_id: str, story_id: str, version: str, domain: str) -> str:
    digest = hashlib.sha256(f"{sub_id}\x00{story_id}\x00{version}".encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


UNDISCLOSED = "undisclosed-recipients:;"  # RFC 5322 empty group


def recipients(msg: EmailMessage) -> list[str]:
    """The envelope's addresses (To, Cc, Bcc), without the empty group's placeholder."""
    fields = [str(v) for name in ("to", "cc", "bcc") for v in msg.get_all(name, [])]
    return [address for _, address in getaddresses(fields) if address]


def link_token(secret: str, sub_id: str, action: str) -> str:
    """The signature of an unsubscribe / pause link (the channel's secret is the key, so
    rotating the secret revokes every link sent before)."""
    return hmac.new(secret.encode(), f"{sub_id}:{action}".encode(), "sha256").hexdigest()[:32]


def link(public_url: str, sub: Subscription, action: str) -> str:
    token = link_token(sub.channel.secret or "", sub.id, action)
    return (
        f"{public_url.rstrip('/')}/v1/subscriptions/{quote(sub.id)}/unsubscribe"
        f"?action={action}&token={token}"
    )


def _when(version: dict[str, Any]) -> str:
    raw = version.get("published") or version.get("ingested_at") or ""
    return str(raw)[:16].replace("T", " ")


def _source(version: dict[str, Any]) -> str:
    source = version.get("source") or {}
    bits = [str(source.get("name") or "?")]
    extra = ", ".join(str(x) for x in (source.get("country"), source.get("affiliation")) if x)
    return f"{bits[0]} ({extra})" if extra else bits[0]


def _claim_text(claim: dict[str, Any]) -> str:
    subject = f" {claim['subject']}" if claim.get("subject") else ""
    stated = "" if claim.get("claimant_stated") else " (the outlet)"
    return f"{claim.get('text')} {claim.get('kind')}{subject}, per {claim.get('claimant')}{stated}"


def _story_text(story: StoryItem) -> list[str]:
    lines = [f"== {cut(story.headline, MAX_HEADLINE)}", f"   {story.count} report(s)"]
    if story.url:
        lines.append(f"   {story.url}")
    for column in group_by_side(story.versions[:MAX_VERSIONS]):
        for version in column["versions"]:
            lines.append(
                f"   [{column['label']}] {_when(version)} {_source(version)}: "
                f"{cut(str(version.get('headline') or ''), MAX_HEADLINE)}"
            )
    for claim in claims(story.versions[:MAX_VERSIONS])[:MAX_CLAIMS]:
        lines.append(f"   claim: {_claim_text(claim)}")
    return lines


def _story_html(story: StoryItem) -> str:
    e = html.escape
    title = e(cut(story.headline, MAX_HEADLINE))
    head = f'<a href="{e(story.url)}">{title}</a>' if story.url else title
    columns = [c for c in group_by_side(story.versions[:MAX_VERSIONS]) if c["versions"]]
    cells = []
    for column in columns:
        items = "".join(
            f"<p><b>{e(_source(v))}</b><br><small>{e(_when(v))}</small><br>"
            f"{e(cut(str(v.get('headline') or ''), MAX_HEADLINE))}</p>"
            for v in column["versions"]
        )
        cells.append(f'<td valign="top"><h4>{e(column["label"])}</h4>{items}</td>')
    table = f'<table border="1" cellpadding="6"><tr>{"".join(cells)}</tr></table>' if cells else ""
    found = claims(story.versions[:MAX_VERSIONS])[:MAX_CLAIMS]
    claim_list = "".join(f"<li>{e(_claim_text(c))}</li>" for c in found)
    return f"<h3>{head}</h3><p>{story.count} report(s)</p>{table}" + (
        f"<ul>{claim_list}</ul>" if claim_list else ""
    )


def build(
    sub: Subscription,
    stories: Sequence[StoryItem],
    *,
    subject: str,
    msg_id: str,
    sender: str,
    now: datetime,
    public_url: str,
    max_bytes: int,
) -> EmailMessage:
    """An email of `stories` (a digest when several) to the subscription's addresses."""
    assert sub.channel.email is not None
    shown = list(stories[:MAX_STORIES])
    while True:
        text_parts = [_story_text(s) for s in shown]
        html_parts = [_story_html(s) for s in shown]
        size = sum(len("\n".join(t)) for t in text_parts) + sum(len(h) for h in html_parts)
        if size <= max_bytes or len(shown) <= 1:
            break
        shown = shown[: max(1, len(shown) * 3 // 4)]  # too large: fewer stories, said below
    left_out = len(stories) - len(shown)
    pause, stop = link(public_url, sub, "pause"), link(public_url, sub, "delete")
    more = f"{left_out} more stories not shown." if left_out else ""
    text = "\n\n".join("\n".join(t) for t in text_parts)
    text = cut(text, max_bytes)
    text += f"\n\n{more}\nPause these alerts: {pause}\nUnsubscribe: {stop}\n"
    e = html.escape
    body_html = (
        f"<html><body><h2>{e(subject)}</h2>{''.join(html_parts)}"
        + (f"<p>{e(more)}</p>" if more else "")
        + f'<hr><p><a href="{e(pause)}">Pause these alerts</a> · '
        f'<a href="{e(stop)}">Unsubscribe</a></p></body></html>'
    )
    msg = EmailMessage()
    msg["Subject"] = cut(" ".join(subject.split()), 200)  # a header never holds a line break
    msg["From"] = sender
    to = sub.channel.email.to
    if len(to) == 1:
        msg["To"] = to[0]
    else:
        msg["To"], msg["Bcc"] = UNDISCLOSED, ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["List-Unsubscribe"] = f"<{stop}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    msg.set_content(text)
    msg.add_alternative(body_html, subtype="html")
    return msg
