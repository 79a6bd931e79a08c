"""Our own pages in the structure of Telegram's public channel preview (t.me/s/<channel>),
built from a list of posts so tests can edit and delete posts between polls."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass
class Post:
    id: int
    text: str = ""
    date: str = "2024-05-14T10:00:00+00:00"
    views: str = "1.5K"
    edited: bool = False
    forwarded_from: str | None = None
    photo: bool = False
    reply_to: tuple[int, str] | None = None  # (post id, quoted text)
    service: bool = False


def message(channel: str, post: Post) -> str:
    classes = "tgme_widget_message js-widget_message" + (" service_message" if post.service else "")
    parts = [
        f'<div class="{classes}" data-post="{channel}/{post.id}">',
        '<div class="tgme_widget_message_bubble">',
    ]
    if post.forwarded_from:
        parts.append(
            '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
            '<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/other/1">'
            f"<span>{escape(post.forwarded_from)}</span></a></div>"
        )
    if post.reply_to:
        parts.append(
            f'<a class="tgme_widget_message_reply" href="https://t.me/{channel}/{post.reply_to[0]}">'
            f'<div class="tgme_widget_message_author"><span class="tgme_widget_message_author_name">'
            f'{channel}</span></div><div class="tgme_widget_message_text js-message_reply_text">'
            f"{escape(post.reply_to[1])}</div></a>"
        )
    if post.photo:
        parts.append(
            f'<a class="tgme_widget_message_photo_wrap" href="https://t.me/{channel}/{post.id}" '
            "style=\"background-image:url('https://cdn.example/p.jpg')\"></a>"
        )
    if post.text:
        body = "<br/>".join(escape(line) for line in post.text.split("\n"))
        parts.append(
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>'
        )
    edited = "edited " if post.edited else ""
    parts.append(
        '<div class="tgme_widget_message_footer"><div class="tgme_widget_message_info">'
        f'<span class="tgme_widget_message_views">{post.views}</span>'
        f'<span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" '
        f'href="https://t.me/{channel}/{post.id}"><time datetime="{post.date}">10:00</time></a>'
        "</span></div></div></div></div>"
    )
    return '<div class="tgme_widget_message_wrap">' + "".join(parts) + "</div>"


def channel_page(channel: str, posts: list[Post], before: int | None = None) -> str:
    prev = f'<link rel="prev" href="/s/{channel}?before={before}">' if before else ""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{channel}</title>{prev}</head>'
        '<body><div class="tgme_channel_info"><div class="tgme_channel_info_header_title">'
        f'<span>{channel.title()}</span></div></div><section class="tgme_channel_history">'
        + "".join(message(channel, p) for p in sorted(posts, key=lambda p: p.id))
        + "</section></body></html>"
    )


def serve_channel(server: object, channel: str, posts: list[Post], per_page: int = 20) -> None:
    """The channel's preview and its `?before=` pages on a LoopbackServer, as Telegram pages
    them: the newest `per_page` posts, each page linking to the next older one."""
    ordered = sorted(posts, key=lambda p: p.id)
    end = len(ordered)
    path = f"/s/{channel}"
    while end > 0:
        chunk = ordered[max(0, end - per_page) : end]
        older = chunk[0].id if end > per_page else None
        server.add(path, channel_page(channel, chunk, older))  # type: ignore[attr-defined]
        path = f"/s/{channel}?before={chunk[0].id}"
        end -= per_page
