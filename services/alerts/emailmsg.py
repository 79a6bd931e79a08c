"""Alert emails (one story) and digests (many), as the bytes sent (mimewrite.py). Pure.

Each story shows every side's version side by side (source, country and affiliation,
headline, time) and the casualty claims with who made them. Everything from reports is
escaped in the HTML part; the size is bounded (stories, versions, characters) and what was
left out is said. The Message-ID is derived from (subscription, story, version), so a resend
after a crash carries the same id and mail clients show it once.

Recipients never see each other (they may be targets of what they follow): one address goes
in To; several go only in the envelope, under `To: undisclosed-recipients:;` (no Bcc header
is written). One message, not one per address: one SMTP transaction
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
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from services.alerts import mimewrite
from services.alerts.chatformat import cut
from services.alerts.mimewrite import OutgoingEmail
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


@dataclass(frozen=True)
class RenderedStory:
    """A story's part of an email, the same for every subscription it goes to."""

    text: str
    html: str


def render_story(story: StoryItem) -> RenderedStory:
    return RenderedStory("\n".join(_story_text(story)), _story_html(story))


def build(
    sub: Subscription,
    stories: Sequence[RenderedStory],
    *,
    subject: str,
    msg_id: str,
    sender: str,
    now: datetime,
    public_url: str,
    max_bytes: int,
) -> OutgoingEmail:
    """An email of `stories` (a digest when several) to the subscription's addresses. Only the
    subject, the links and the headers are the subscription's own: the stories' parts are
    rendered once (render_story) for every subscription they go to."""
    assert sub.channel.email is not None
    shown = list(stories[:MAX_STORIES])
    size = sum(len(s.text) + len(s.html) for s in shown)
    while size > max_bytes and len(shown) > 1:
        shown = shown[: max(1, len(shown) * 3 // 4)]  # too large: fewer stories, said below
        size = sum(len(s.text) + len(s.html) for s in shown)
    left_out = len(stories) - len(shown)
    pause, stop = link(public_url, sub, "pause"), link(public_url, sub, "delete")
    more = f"{left_out} more stories not shown." if left_out else ""
    text = cut("\n\n".join(s.text for s in shown), max_bytes)
    text += f"\n\n{more}\nPause these alerts: {pause}\nUnsubscribe: {stop}\n"
    e = html.escape
    body_html = (
        f"<html><body><h2>{e(subject)}</h2>{''.join(s.html for s in shown)}"
        + (f"<p>{e(more)}</p>" if more else "")
        + f'<hr><p><a href="{e(pause)}">Pause these alerts</a> · '
        f'<a href="{e(stop)}">Unsubscribe</a></p></body></html>'
    )
    from_header, from_address = mimewrite.address_header(sender)
    to = sub.channel.email.to
    headers = [
        ("Subject", mimewrite.subject_header(cut(" ".join(subject.split()), 200))),
        ("From", from_header),
        ("To", to[0] if len(to) == 1 else UNDISCLOSED),
        ("Date", format_datetime(now)),
        ("Message-ID", msg_id),
        ("Auto-Submitted", "auto-generated"),
        ("List-Unsubscribe", f"<{stop}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),  # RFC 8058
    ]
    return OutgoingEmail(
        message_id=msg_id,
        sender=from_address,
        recipients=tuple(to),
        data=mimewrite.write(headers, text, body_html),
    )
