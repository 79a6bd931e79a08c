"""Telegram public channels through their web preview (`https://t.me/s/<channel>`), no account.

The preview is an HTML page of the channel's latest ~20 posts (`div.tgme_widget_message` with
`data-post="channel/123"`), with `<link rel="prev" href="/s/channel?before=123">` to page back.
It is read by libxml2's HTML parser and XPath (linear in the input, no regex over the page).
A channel the preview cannot show (private, closed, preview disabled) redirects to its info
page `t.me/<channel>`: that is a per-source error, not an empty success.

`ChannelBackend` is the seam for another way in: an MTProto client (account-based, for
channels without a preview) only has to return the same `ChannelPage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from schemas.common import SourceInfo
from schemas.raw import PostInfo, RawArticle, ReplyContext
from services.ingestor.adapters.base import ItemError, clean, make_article, parse_datetime
from services.ingestor.encoding import BinaryContent, decode_text

PUBLIC_BASE = "https://t.me"
MAX_TEXT_CHARS = 100_000  # Telegram's own limit is 4096 (text) / 1024 (caption)
MAX_ITEM_PAYLOAD = 64 * 1024


class TelegramError(Exception):
    """The whole page is unusable for this channel; `error_type` is a short metrics code."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass
class TelegramPost:
    channel: str
    post_id: int
    permalink: str
    date: datetime | None
    text: str
    views: int | None = None
    forwarded_from: str | None = None
    forwarded_from_url: str | None = None
    media: list[str] = field(default_factory=list)  # photo, video, document, ...
    media_captions: list[str] = field(default_factory=list)
    reply: ReplyContext | None = None
    edited: bool = False
    author: str | None = None


@dataclass
class ChannelPage:
    channel: str
    title: str | None
    posts: list[TelegramPost] = field(default_factory=list)
    failures: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # where, type, why
    before: int | None = None  # the id to ask for the previous (older) page, if any
    service_messages: int = 0
    ids: list[int] = field(default_factory=list)  # every post id listed, service ones too


class ChannelBackend(Protocol):
    """Reads one page of a channel: the newest posts when `before` is None, else the posts
    older than `before`. Raises TelegramError for a channel it cannot read; a backend's own
    transport errors (e.g. FetchError) go to the caller as they are."""

    def page(self, channel: str, before: int | None = None) -> ChannelPage: ...


def channel_from_url(url: str) -> str | None:
    """'https://t.me/s/name', 'https://t.me/name', 'http://127.0.0.1:1/s/name' -> 'name'."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if parts and parts[0] == "s":
        parts = parts[1:]
    if len(parts) != 1 or not valid_channel(parts[0]):
        return None
    return parts[0]


def valid_channel(name: str) -> bool:
    # Telegram usernames: 5-32 of [A-Za-z0-9_]; some old/official ones are shorter.
    return 3 <= len(name) <= 64 and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def preview_url(base: str, channel: str, before: int | None = None) -> str:
    url = f"{base.rstrip('/')}/s/{channel}"
    return f"{url}?before={before}" if before is not None else url


# -- parsing ---------------------------------------------------------------------------------
def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _x(expr: str) -> etree.XPath:
    return etree.XPath(expr)


_MESSAGES = _x(f"//div[{_has_class('tgme_widget_message')}][@data-post]")
# Element names first: a class test on every element of a hostile page of two million
# <br> took seconds per query.
_HISTORY = _x(f"//section[{_has_class('tgme_channel_history')}]")
_CHANNEL_TITLE = _x(
    f"//div[{_has_class('tgme_channel_info_header_title')}] | //meta[@property='og:title']/@content"
)
_PREV = _x("//link[@rel='prev']/@href")
# Classes read inside one message, in one bounded walk of its elements (a dozen XPath
# queries per message cost 16 s for a page of 60,000 messages, and 48 s for one message of
# 2 million <br>: the walk stops at MAX_POST_ELEMENTS).
_MEDIA_CLASSES = {
    "tgme_widget_message_photo_wrap": "photo",
    "tgme_widget_message_video_player": "video",
    "tgme_widget_message_document": "document",
    "tgme_widget_message_poll": "poll",
}
_WANTED = {
    "tgme_widget_message_text",
    "tgme_widget_message_date",
    "tgme_widget_message_views",
    "tgme_widget_message_meta",
    "tgme_widget_message_forwarded_from_name",
    "tgme_widget_message_reply",
    "tgme_widget_message_author_name",
    "tgme_widget_message_metatext",
    "tgme_widget_message_from_author",
    "tgme_widget_message_document_title",
    *_MEDIA_CLASSES,
}
MAX_POSTS_PER_PAGE = 200  # Telegram shows 20
MAX_POST_ELEMENTS = 5_000


def _text_of(element: etree._Element) -> str:
    """Visible text with <br> as line breaks, whitespace of each line folded."""
    for br in element.iter("br"):
        br.tail = "\n" + (br.tail or "")
    lines = ("".join(element.itertext())).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()[:MAX_TEXT_CHARS]


def parse_views(value: str) -> int | None:
    """'1.2K' -> 1200, '3M' -> 3000000, '845' -> 845."""
    text = value.strip().upper().replace(",", "")
    scale = 1
    if text[-1:] in ("K", "M"):
        scale = 1000 if text[-1] == "K" else 1_000_000
        text = text[:-1]
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number * scale) if number >= 0 else None


def _parse_html(data: bytes, http_charset: str | None) -> etree._Element:
    try:
        text, _ = decode_text(data, http_charset)
    except BinaryContent as exc:
        raise TelegramError("binary_content", str(exc)) from exc
    parser = etree.HTMLParser(
        encoding="utf-8", recover=True, no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(text.encode("utf-8", errors="replace"), parser)
    except (etree.LxmlError, ValueError) as exc:
        raise TelegramError("malformed_page", f"unreadable preview page: {exc}") from exc
    if root is None:
        raise TelegramError("malformed_page", "empty preview page")
    return root


def parse_preview(
    data: bytes, channel: str, http_charset: str | None = None, final_url: str | None = None
) -> ChannelPage:
    """One preview page -> posts (oldest first, as the page lists them). Raises TelegramError
    when the page is not a channel preview (closed channel, info page, something else)."""
    if final_url is not None and not urlsplit(final_url).path.startswith("/s/"):
        raise TelegramError(
            "telegram_no_preview",
            f"channel {channel!r} has no public preview (redirected to {final_url[:200]}): "
            "private, closed or preview disabled",
        )
    root = _parse_html(data, http_charset)
    messages = _MESSAGES(root)
    if not messages and not _HISTORY(root):
        raise TelegramError(
            "telegram_no_preview",
            f"channel {channel!r}: the page is not a channel preview (no message history)",
        )
    titles = _CHANNEL_TITLE(root)
    title = titles[0] if titles else None
    title = clean(
        title if isinstance(title, str) else _text_of(title) if title is not None else None, 300
    )
    page = ChannelPage(channel=channel, title=title)
    if len(messages) > MAX_POSTS_PER_PAGE:
        page.failures.append(
            (
                channel,
                "too_complex",
                f"page lists {len(messages)} posts; the first {MAX_POSTS_PER_PAGE} were read",
                b"",
            )
        )
        messages = messages[:MAX_POSTS_PER_PAGE]
    for element in messages:
        post_ref = str(element.get("data-post") or "")
        number = post_ref.partition("/")[2]
        if number.isdigit() and len(number) <= 12:
            page.ids.append(int(number))
        try:
            post = _post(element, post_ref)
        except ItemError as exc:
            payload = etree.tostring(element, encoding="utf-8")[:MAX_ITEM_PAYLOAD]
            page.failures.append((post_ref or channel, exc.error_type, exc.reason, payload))
            continue
        if post is None:
            page.service_messages += 1
        else:
            page.posts.append(post)
    page.before = _before(root, page)
    if not page.posts and not page.failures and not page.service_messages:
        raise TelegramError("telegram_empty", f"channel {channel!r} shows no posts")
    return page


def _before(root: etree._Element, page: ChannelPage) -> int | None:
    for href in _PREV(root):
        values = parse_qs(urlsplit(str(href)).query).get("before")
        if values and values[0].isdigit():
            return int(values[0])
    return None


def _walk(message: etree._Element) -> tuple[dict[str, etree._Element], dict[str, etree._Element]]:
    """The first element of each wanted class in the message, and inside its reply box,
    in document order; ItemError past MAX_POST_ELEMENTS."""
    own: dict[str, etree._Element] = {}
    reply: dict[str, etree._Element] = {}
    stack: list[tuple[etree._Element, bool]] = [(message, False)]
    taken = 1  # elements put on the stack: children are taken only within the budget
    while stack:
        element, in_reply = stack.pop()
        value = element.get("class")
        classes = value.split() if isinstance(value, str) else ()
        found = reply if in_reply else own
        for name in classes:
            if name in _WANTED and name not in found:
                found[name] = element
        child_in_reply = in_reply or "tgme_widget_message_reply" in classes
        children = list(
            islice(element.iterchildren(tag=etree.Element), MAX_POST_ELEMENTS - taken + 1)
        )
        taken += len(children)
        if taken > MAX_POST_ELEMENTS:
            raise ItemError("too_complex", f"post has more than {MAX_POST_ELEMENTS} elements")
        stack.extend((c, child_in_reply) for c in reversed(children))
    return own, reply


def _post(element: etree._Element, post_ref: str) -> TelegramPost | None:
    """A post, or None for a service message (pinned, photo changed, channel created)."""
    channel, _, number = post_ref.partition("/")
    if not valid_channel(channel) or not number.isdigit() or len(number) > 12:
        raise ItemError("invalid_item", f"unusable data-post {post_ref[:100]!r}")
    if "service_message" in (element.get("class") or "").split():
        return None
    own, in_reply = _walk(element)
    text = _text_of(own["tgme_widget_message_text"]) if "tgme_widget_message_text" in own else ""
    media = [kind for name, kind in _MEDIA_CLASSES.items() if name in own]
    captions: list[str] = []
    if media and text:
        captions.append(text)  # on Telegram the text of a media post is its caption
    if (title := own.get("tgme_widget_message_document_title")) is not None:
        if value := _text_of(title):
            captions.append(value[:1000])
    date = None
    if (link := own.get("tgme_widget_message_date")) is not None:
        times = [t for t in link.iter("time") if t.get("datetime")]
        date = parse_datetime(str(times[0].get("datetime"))) if times else None
    views = own.get("tgme_widget_message_views")
    meta = own.get("tgme_widget_message_meta")
    forwarded = own.get("tgme_widget_message_forwarded_from_name")
    author = own.get("tgme_widget_message_from_author")
    return TelegramPost(
        channel=channel,
        post_id=int(number),
        permalink=f"{PUBLIC_BASE}/{channel}/{int(number)}",
        date=date,
        text=text,
        views=parse_views(_text_of(views)) if views is not None else None,
        forwarded_from=clean(_text_of(forwarded), 300) if forwarded is not None else None,
        forwarded_from_url=_safe_href(forwarded) if forwarded is not None else None,
        media=media,
        media_captions=captions,
        reply=_reply(own.get("tgme_widget_message_reply"), in_reply),
        edited=meta is not None and "edited" in _text_of(meta).lower().split(),
        author=clean(_text_of(author), 300) if author is not None else None,
    )


def _safe_href(element: etree._Element) -> str | None:
    href = element.get("href")
    if not isinstance(href, str) or not href.startswith(("https://", "http://")):
        return None
    return href[:1000]


def _reply(box: etree._Element | None, inside: dict[str, etree._Element]) -> ReplyContext | None:
    if box is None:
        return None
    author = inside.get("tgme_widget_message_author_name")
    text = inside.get("tgme_widget_message_text", inside.get("tgme_widget_message_metatext"))
    return ReplyContext(
        url=_safe_href(box),
        author=clean(_text_of(author), 300) if author is not None else None,
        text=(_text_of(text)[:2000] or None) if text is not None else None,
    )


def post_text(post: TelegramPost) -> str:
    """What the extractor reads: the post, then what it forwards, quotes and shows."""
    parts = [post.text]
    if post.reply and post.reply.text:
        who = f" {post.reply.author}" if post.reply.author else ""
        parts.append(f"[in reply to{who}: {post.reply.text}]")
    for caption in post.media_captions:
        if caption != post.text:
            parts.append(caption)
    return "\n\n".join(p for p in parts if p)


def post_title(post: TelegramPost, channel_title: str | None) -> str:
    """The first line of the post, as a headline (Telegram posts have none)."""
    first = next((line for line in post.text.split("\n") if line.strip()), "")
    if not first:
        first = post.media_captions[0] if post.media_captions else ""
    if len(first) > 200:
        first = first[:200].rsplit(" ", 1)[0] + "…"
    return first or f"{channel_title or post.channel} #{post.post_id}"


def post_to_article(
    post: TelegramPost, source: SourceInfo, channel_title: str | None
) -> RawArticle:
    text = post_text(post)
    if not text:
        raise ItemError("empty_item", f"post {post.channel}/{post.post_id} has no text or caption")
    article = make_article(
        source=source,
        url=post.permalink,
        title=post_title(post, channel_title),
        text=text,
        published=post.date,
        authors=[post.author] if post.author else [],
        language_hint=source.language,
        feed_title=channel_title,
    )
    article.post = PostInfo(
        platform="telegram",
        channel=post.channel,
        post_id=post.post_id,
        views=post.views,
        forwarded_from=post.forwarded_from,
        forwarded_from_url=post.forwarded_from_url,
        media=post.media,
        media_captions=post.media_captions,
        reply_to=post.reply,
        edited=post.edited,
    )
    return article


# -- the public web preview as a backend ------------------------------------------------------
FetchPage = Callable[[str], tuple[bytes, str | None, str]]  # url -> body, charset, final URL


@dataclass
class WebPreviewBackend:
    """Reads `<base>/s/<channel>` through the ingestor's SafeHttpClient (its deadline, caps,
    per-host limits and URL checks); `fetch` returns (body, charset, final URL)."""

    fetch: FetchPage
    base: str = PUBLIC_BASE

    def page(self, channel: str, before: int | None = None) -> ChannelPage:
        body, charset, final_url = self.fetch(preview_url(self.base, channel, before))
        return parse_preview(body, channel, charset, final_url)
