"""Clean text: raw HTML or text -> headline, byline, date and body without page chrome; a
digest page (several independent short reports, one per line) becomes one doc per item."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from html import unescape
from pathlib import Path
from typing import Any

import trafilatura
import yaml

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.common.fold import fold_words_joined
from services.extractor.inert import strip_inert
from services.extractor.title import cheap_title

CHROME_FILE = Path(__file__).resolve().parent / "data" / "chrome.yaml"
FEED_TEXT_ENOUGH = 1_000  # feed text this long is the article: no need to parse the HTML
HEADLINE_MAX = 220
DIGEST_MIN_ITEMS = 3
DIGEST_MIN_LINE = 60
RELATED_LINE_MAX = 200  # lines after a "Related posts" header shorter than this are headlines
_TERMINAL = tuple(".!?։。؟…\"'”’»")
_SENTENCE_END = re.compile(r"(?<=[.!?։؟…])[\"'”’»)]*\s+(?=\S)")
_BYLINE = re.compile(r"^(?:by|автор|yazar|müəllif|oleh|του|της|von|par)\s+\S.{0,60}$", re.I)
# words that may join names in a byline ("By Anna Smith and John Doe")
_NAME_JOINERS = frozenset(
    {"and", "et", "und", "и", "ve", "və", "dan", "και", "&", "de", "van", "von"}
)
_NAME_END = re.compile(r"[,|/•·–—(]")  # what follows the names: ", Reuters", "| 5 May"
# markup around an author's name in the page: the evidence that a bare name line is a byline
_AUTHOR_MARKS = ("author", "byline", "autor", "writer", "journalist", "reporter", "credit")
# truncation guard: fast mode's text this much shorter than the page's text looks cut
CUT_SHARE = 0.08
CUT_MIN_PAGE = 5_000
CUT_MAX_PARAGRAPHS = 3
CUT_GAIN = 3  # the full mode's text must be this many times longer to replace it
_TAG = re.compile(r"<[^<>]*>")  # [^<>]: a scan never runs past the next "<", so it is linear
# A page this short is a feed item's HTML (an official statement of one sentence, a Telegram
# post): trafilatura drops an extraction under its minimum size (250 characters), so its own
# visible text is the body. Longer pages where trafilatura finds nothing are chrome.
SMALL_PAGE_CHARS = 2_000
_BLOCK = re.compile(
    r"<(?:/?(?:p|div|li|h[1-6]|blockquote|tr|section|article)\b[^<>]*|br\s*/?)>", re.I
)


@dataclass(frozen=True, slots=True)
class ChromeRules:
    drop: re.Pattern[str]
    cut_from: re.Pattern[str]


@dataclass(slots=True)
class CleanDoc:
    headline: str
    body: str
    paragraphs: list[str]
    byline: str | None = None
    published: datetime | None = None
    item_index: int = 0
    digest: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _combine(groups: dict[str, list[str]] | None) -> re.Pattern[str]:
    patterns = [p for items in (groups or {}).values() for p in items or []]
    if not patterns:
        return re.compile(r"(?!x)x")
    return re.compile("(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\Z", re.I | re.S)


@lru_cache(maxsize=4)
def load_chrome(path: Path = CHROME_FILE) -> ChromeRules:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return ChromeRules(drop=_combine(data.get("drop")), cut_from=_combine(data.get("cut_from")))


def remove_chrome(paragraphs: list[str], rules: ChromeRules | None = None) -> list[str]:
    """Drop chrome lines; drop "Related posts" headers and the short headlines after them."""
    rules = rules or load_chrome()
    kept: list[str] = []
    in_related = False
    for para in paragraphs:
        line = para.strip()
        if not line:
            continue
        if rules.cut_from.match(line):
            in_related = True
            continue
        if in_related:
            if len(line) < RELATED_LINE_MAX:
                continue
            in_related = False
        if rules.drop.match(line):
            continue
        kept.append(line)
    return kept


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding white space excluded."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for para in text.split("\n"):
        start = 0
        for m in _SENTENCE_END.finditer(para):
            _add_span(spans, para, start, m.start(), offset)
            start = m.end()
        _add_span(spans, para, start, len(para), offset)
        offset += len(para) + 1
    return spans


def _add_span(spans: list[tuple[int, int]], para: str, start: int, end: int, offset: int) -> None:
    piece = para[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def _looks_like_headline(line: str) -> bool:
    return len(line) <= HEADLINE_MAX and not line.endswith((".", "!", "?", "։"))


def _name_like(tokens: list[str]) -> bool:
    """Capitalised name words (initials allowed), joined at most by "and"-like words."""
    names = [t for t in tokens if t.lower() not in _NAME_JOINERS]
    return 1 <= len(names) <= 5 and all(
        t[:1].isupper() and t.replace("-", "").replace(".", "").replace("'", "").isalpha()
        for t in names
    )


def _prefixed_byline(line: str) -> bool:
    """ "By Anna Smith, Reuters": the keyword, then names up to a separator. "Par contre, ..."
    or "Von Berlin aus gesehen ..." is a sentence: a lower-case word follows the keyword."""
    if not _BYLINE.match(line):
        return False
    rest = line.split(None, 1)[1]
    cut = _NAME_END.search(rest)
    names = (rest[: cut.start()] if cut else rest).split()
    return _name_like(names) and not (cut is None and rest.rstrip().endswith(("!", "?", ":")))


def _bare_name(line: str) -> bool:
    tokens = line.split()
    return 2 <= len(tokens) <= 4 and len(line) <= 40 and _name_like(tokens)


def _marked_as_author(line: str, html: str) -> bool:
    """The line stands in the page next to author markup (class="byline", rel="author",
    <meta name="author" ...>): looked up at its first few places in the page only."""
    at = html.find(line)
    for _ in range(5):
        if at < 0:
            return False
        before = html[max(0, at - 300) : at].lower()
        if any(mark in before for mark in _AUTHOR_MARKS):
            return True
        at = html.find(line, at + len(line))
    return False


def _looks_like_byline(line: str, html: str | None = None) -> bool:
    """A byline on evidence: a byline keyword followed by names, or a bare name line that the
    page marks as its author. Plain text has no markup: there a bare name line near the top
    counts (feeds and pasted reports carry the author's name on a line of its own)."""
    if _prefixed_byline(line):
        return True
    if not _bare_name(line):
        return False
    return _marked_as_author(line, html) if html is not None else True


def _same_text(paragraph: str, headline: str, folded_headline: str) -> bool:
    """The headline repeated (case, punctuation or script aside). Folding a whole paragraph is
    costly: one of a very different length is not compared."""
    if not 0.5 * len(headline) - 8 <= len(paragraph) <= 2 * len(headline) + 8:
        return False
    return fold_words_joined(paragraph) == folded_headline


def _headline_and_body(
    paragraphs: list[str], title: str | None, html: str | None = None
) -> tuple[str, str | None, list[str]]:
    """Pick the headline (feed title first), drop its repeats, find a byline near the top.
    A page whose only paragraph reads like a headline keeps it as its body too (a one-line
    report is still a report); `TextLayout` does not count it twice."""
    headline = (title or "").strip()
    if not headline and paragraphs and _looks_like_headline(paragraphs[0]):
        headline = paragraphs[0]
        paragraphs = paragraphs[1:] or paragraphs
    key = fold_words_joined(headline)  # word by word through the cache
    body = [p for i, p in enumerate(paragraphs) if not (i < 4 and _same_text(p, headline, key))]
    if not body and paragraphs and not (title or "").strip():
        body = paragraphs[:1]
    byline = None
    for i, para in enumerate(body[:4]):
        if len(body) > 1 and _looks_like_byline(para, html):
            byline = para.split(None, 1)[1] if _prefixed_byline(para) else para
            body = body[:i] + body[i + 1 :]
            break
    return headline, byline, body


def is_digest(text: str) -> bool:
    """One short report per line, no headline: the Indonesian seed's shape."""
    stripped = text.strip()
    if "\n\n" in stripped:
        return False
    lines = [line.strip() for line in stripped.split("\n") if line.strip()]
    return len(lines) >= DIGEST_MIN_ITEMS and all(
        len(line) >= DIGEST_MIN_LINE and line.endswith(_TERMINAL) for line in lines
    )


def _digest_headline(item: str) -> str:
    first = split_sentences(item)[0] if item else ""
    if len(first) <= HEADLINE_MAX:
        return first
    cut = first[:HEADLINE_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def _from_text(raw: RawArticle, text: str, rules: ChromeRules) -> list[CleanDoc]:
    title = (raw.title or "").strip() or None
    if title and not raw.html and not _looks_like_headline(title):
        # A .txt file's first line arrives as the title; when it reads like a sentence it is
        # the first item of the text (a digest line), not a headline.
        text, title = f"{title}\n{text}", None
    elif title and not remove_chrome([title], rules):
        title = None  # page chrome taken for a headline ("Categories: World")
    paragraphs = remove_chrome(text.split("\n"), rules)
    raw = raw.model_copy(update={"title": title})
    if not raw.title and is_digest("\n".join(paragraphs)):
        return [
            CleanDoc(
                headline=_digest_headline(item),
                body=item,
                paragraphs=[item],
                published=raw.published,
                item_index=i,
                digest=True,
            )
            for i, item in enumerate(paragraphs)
        ]
    headline, byline, body = _headline_and_body(paragraphs, raw.title)
    return [
        CleanDoc(
            headline=headline,
            body="\n\n".join(body),
            paragraphs=body,
            byline=byline or (", ".join(raw.authors) or None),
            published=raw.published,
        )
    ]


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# Zero-width (non-)joiners are letters' business in Persian (راه‌های), Kurdish and Indic
# scripts; trafilatura drops every non-printable character and glues the words together. They
# cross it as rare printable letters and are put back after.
_JOINERS = (("\u200c", "\ua78f"), ("\u200d", "\ua7f7"))
_JOINER_ENTITIES: tuple[tuple[str, str], ...] = (
    ("&zwnj;", "\u200c"),
    ("&#8204;", "\u200c"),
    ("&#x200c;", "\u200c"),
    ("&zwj;", "\u200d"),
    ("&#8205;", "\u200d"),
    ("&#x200d;", "\u200d"),
)


def _hide_joiners(html: str) -> tuple[str, bool]:
    if "\u200c" not in html and "\u200d" not in html and "&" not in html:
        return html, False
    for entity, char in _JOINER_ENTITIES:
        if entity in html:
            html = html.replace(entity, char)
    found = False
    for joiner, stand_in in _JOINERS:
        if joiner in html:
            html, found = html.replace(joiner, stand_in), True
    return html, found


def _show_joiners(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for joiner, stand_in in _JOINERS:
        value = value.replace(stand_in, joiner)
    return value


def extract_html(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, Any]:
    """trafilatura on one page; metadata (and its slow date guessing) only when asked. Without
    metadata, scripts, styles and comments are cut first (the metadata pass reads some)."""
    html, joiners = _hide_joiners(html)
    doc = trafilatura.bare_extraction(
        html if with_metadata else strip_inert(html),
        fast=fast,
        include_comments=False,
        with_metadata=with_metadata,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None:
        return {}
    out = dict(doc.as_dict()) if hasattr(doc, "as_dict") else dict(doc)
    return {k: _show_joiners(v) for k, v in out.items()} if joiners else out


def page_text_chars(html: str) -> int:
    """Characters of visible text in a page (tags, scripts and styles out, white space
    collapsed): what a cut extraction is compared with."""
    return len(" ".join(_TAG.sub(" ", strip_inert(html)).split()))


def looks_cut(text: str, html: str) -> bool:
    """Fast mode stops at the first good-looking block: a long article whose text is split over
    several containers comes back as its first few paragraphs. Few paragraphs and a page with
    several times more text is the sign."""
    if text.count("\n") + 1 > CUT_MAX_PARAGRAPHS:
        return False
    page = page_text_chars(html)
    return page >= CUT_MIN_PAGE and len(text) < CUT_SHARE * page


def small_page_text(html: str) -> str:
    """The visible text of a small page or fragment, one line per block, entities decoded;
    "" for a page longer than SMALL_PAGE_CHARS of text."""
    if page_text_chars(html) > SMALL_PAGE_CHARS:
        return ""
    lines = _TAG.sub(" ", _BLOCK.sub("\n", strip_inert(html))).split("\n")
    return "\n".join(" ".join(unescape(line).split()) for line in lines if line.strip()).strip()


def extract_article(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, Any]:
    """`extract_html`, with trafilatura's full mode (its fallback extractors) when the fast
    result looks cut; the longer text wins."""
    doc = extract_html(html, fast=fast, with_metadata=with_metadata)
    text = (doc.get("text") or "").strip()
    if fast and looks_cut(text, html):
        full = extract_html(html, fast=False)
        if len((full.get("text") or "").strip()) >= CUT_GAIN * len(text):
            doc = {**doc, "text": full.get("text")}
    return doc


def html_body(html: str, fast: bool = True) -> str:
    """Article body text of a page as the pipeline's clean step gives it (headline, byline and
    chrome out): what the benchmark scores."""
    raw = RawArticle(
        article_id="page-body",
        source=SourceInfo(name="page"),
        html=html,
        published=datetime(2026, 1, 1, tzinfo=UTC),  # no metadata pass: as the feeds give it
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return "\n".join(doc.body for doc in clean(raw, fast_html=fast))


def clean(
    raw: RawArticle, fast_html: bool = True, rules: ChromeRules | None = None
) -> list[CleanDoc]:
    """Clean docs of one raw article: usually one, one per item for a digest page."""
    rules = rules or load_chrome()
    feed_text = (raw.text or "").strip()
    if raw.html and len(feed_text) < FEED_TEXT_ENOUGH:
        need_meta = raw.published is None  # the metadata pass is only worth it for the date
        doc = extract_article(raw.html, fast=fast_html, with_metadata=need_meta)
        text = (doc.get("text") or "").strip() or feed_text or small_page_text(raw.html)
        paragraphs = remove_chrome(text.split("\n"), rules)
        title = raw.title or doc.get("title") or cheap_title(raw.html)
        headline, byline, body = _headline_and_body(paragraphs, title, raw.html)
        authors = ", ".join(raw.authors) or doc.get("author") or byline
        return [
            CleanDoc(
                headline=headline,
                body="\n\n".join(body),
                paragraphs=body,
                byline=authors or None,
                published=raw.published or _parse_date(doc.get("date")),
            )
        ]
    if feed_text:
        return _from_text(raw, feed_text, rules)
    return [
        CleanDoc(
            headline=(raw.title or "").strip(), body="", paragraphs=[], published=raw.published
        )
    ]
