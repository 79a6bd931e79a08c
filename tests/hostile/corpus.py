"""The hostile-input corpus: every item is built here at test time (nothing multi-MB is
committed), once per session, and every entry point is driven with every item.

Each item is bytes: what a file, an HTTP body or a push request may contain. Sizes are chosen so
that the known bug classes cost 10x-1000x more than the bounds the tests assert (a backtracking
scan over 100 KB runs for minutes; a decompression bomb expands past the memory bound).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from functools import cache

MB = 1 << 20
PUBLIC_HOST = "93.184.216.34"  # a literal public address: no DNS, passes the SSRF guard


def _gzip_stream(size: int, *, flags: int = 0, chunk: bytes = b"\x00") -> bytes:
    """A gzip member of `size` repeated bytes, written without holding them in memory."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x00\xff"
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = chunk * (MB // len(chunk))
    out = io.BytesIO()
    out.write(header)
    crc = 0
    left = size
    while left > 0:
        piece = block[: min(left, len(block))]
        crc = zlib.crc32(piece, crc)
        out.write(comp.compress(piece))
        left -= len(piece)
    out.write(comp.flush())
    out.write(crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little"))
    return out.getvalue()


def _deflate_stream(size: int) -> bytes:
    comp = zlib.compressobj(9)
    block = b"<p>" + b"a" * (MB - 3)
    parts = [comp.compress(block) for _ in range(size // MB)]
    return b"".join(parts) + comp.flush()


def _nested(depth: int, open_tag: str, close_tag: str, middle: str = "x") -> bytes:
    return (open_tag * depth + middle + close_tag * depth).encode()


def _billion_laughs() -> bytes:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", ' <!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = f"&lol{i - 1};" if i > 1 else "&lol;"
        lines.append(f' <!ENTITY lol{i} "{prev * 10}">')
    lines += ["]>", '<rss version="2.0"><channel><title>&lol9;</title></channel></rss>']
    return "\n".join(lines).encode()


def _quadratic_blowup() -> bytes:
    """One big entity referenced many times: no nesting, still quadratic (defusedxml's case)."""
    big = "A" * 100_000
    refs = "&a;" * 10_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{big}">]>'
        f'<rss version="2.0"><channel><title>{refs}</title></channel></rss>'
    ).encode()


def _rss(items: str, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>hostile</title>{items}</channel></rss>"
    ).encode(encoding, "replace")


def _item(title: str, link: str, body: str = "body text " * 10, date: str = "") -> str:
    pub = f"<pubDate>{date}</pubDate>" if date else ""
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>{body}</description>{pub}</item>"
    )


def _control_links() -> bytes:
    base = f"http://{PUBLIC_HOST}/a"
    links = [f"{base}&#127;b", f"{base}&#1;b", f"{base}\u0001b", f"{base}&#x9f;b", f"{base}%00b"]
    items = "".join(_item(f"t{i}", link) for i, link in enumerate(links))
    return _rss(items + _item("fine", f"{base}/fine"))


def _control_sitemap() -> bytes:
    base = f"http://{PUBLIC_HOST}/s"
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}&#127;x</loc></url><url><loc>{base}&#x85;y&#9;</loc></url>"
        f"<url><loc>{base}/fine</loc></url></urlset>"
    ).encode()


def _control_page() -> bytes:
    return (
        "<html><head><title>Links\u0001</title>"
        f'<link rel="canonical" href="http://{PUBLIC_HOST}/p&#127;q">'
        f'<meta property="og:url" content="http://{PUBLIC_HOST}/\u0001">'
        "</head><body><p>Control characters\u0001\u007f\u0085 in text and links.</p>"
        f'<a href="http://{PUBLIC_HOST}/&#127;">x</a></body></html>'
    ).encode()


def _huge_attribute() -> bytes:
    value = "a" * (2 * MB)  # far past any real page, and three of them
    return (
        f'<html><head><meta property="og:title" content="{value}">'
        f'<title>t</title></head><body><div class="{value}">text</div>'
        f'<a href="http://{PUBLIC_HOST}/{value}">x</a></body></html>'
    ).encode()


def _dates_page(date: str) -> bytes:
    return (
        f'<html><head><meta property="article:published_time" content="{date}">'
        f"<title>Dated {date}</title></head><body><article><p>"
        + "A report about a meeting in Yerevan with plenty of words in it. " * 20
        + "</p></article></body></html>"
    ).encode()


def _dates_feed() -> bytes:
    dates = [
        "Mon, 01 Jan 0001 00:00:00 +0000",
        "Fri, 31 Dec 9999 23:59:59 -1200",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "Sat, 01 Jan 2000 00:00:00 +9999",
    ]
    return _rss(
        "".join(_item(f"d{i}", f"http://{PUBLIC_HOST}/d{i}", date=d) for i, d in enumerate(dates))
    )


def _mixed_encodings() -> bytes:
    # Declared UTF-8, then windows-1251, Latin-1 and invalid UTF-8 bytes, then UTF-16 text.
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>mix</title>'
        b"<item><title>\xcf\xf0\xe8\xe2\xe5\xf2 caf\xe9 \xff\xfe\xc3\x28</title>"
        b"<description>" + "тест".encode("utf-16-le") + b"\xed\xa0\x80 \xf4\x90\x80\x80"
        b"</description></item></channel></rss>"
    )


def _undeclared_1251() -> bytes:
    text = "Пашинян и Алиев встретились в Брюсселе. " * 200
    return f"<html><body><p>{text}</p></body></html>".encode("cp1251")


def _big_text() -> bytes:
    line = "Azerbaijani and Armenian officials met in Brussels on Tuesday. " * 10 + "\n"
    return (line * (7 * MB // len(line))).encode()


def _fifty_mb() -> bytes:
    """Just under the file adapter's 50 MiB limit, so it is read and parsed, not refused."""
    para = b"<p>" + b"News from the region, paragraph after paragraph. " * 20 + b"</p>\n"
    head = b"<html><head><title>fifty</title></head><body>"
    body = para * ((50 * MB - 4096) // len(para))
    return head + body + b"</body></html>"


def _deep_divs() -> bytes:
    return b"<html><body>" + _nested(100_000, "<div>", "</div>") + b"</body></html>"


# name -> builder. Builders are cheap to call once; results are cached for the session.
BUILDERS: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "gzip_bomb_flg_reserved": lambda: _gzip_stream(300 * MB, flags=0x20),
    "gzip_bomb_plain": lambda: _gzip_stream(300 * MB),
    "gzip_truncated": lambda: _gzip_stream(MB)[:200],
    "deflate_bomb": lambda: _deflate_stream(256 * MB),
    "xml_billion_laughs": _billion_laughs,
    "xml_quadratic_blowup": _quadratic_blowup,
    "xml_external_entity": lambda: (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    ),
    "control_chars_feed_links": _control_links,
    "control_chars_sitemap_locs": _control_sitemap,
    "control_chars_page": _control_page,
    "huge_attribute": _huge_attribute,
    "deep_nesting_divs": _deep_divs,
    "deep_nesting_xml": lambda: _rss(
        "<item><title>deep</title>" + "<x>" * 100_000 + "</x>" * 100_000 + "</item>"
    ),
    "invalid_utf8": lambda: (
        b"<html><body><p>" + bytes(range(0x80, 0x100)) * 4000 + b"</p></body></html>"
    ),
    "mixed_encodings": _mixed_encodings,
    "undeclared_cp1251": _undeclared_1251,
    "wrong_declared_charset": lambda: b'<meta charset="utf-7"><p>+ADw-script+AD4-</p>' * 1000,
    "utf16_no_bom": lambda: "<html><body><p>без BOM</p></body></html>".encode("utf-16-le") * 1000,
    "charref_out_of_range": lambda: (
        b'<rss version="2.0"><channel><title>&#xAAAAAA;</title><item><title>&#99999999;</title>'
    ),
    "nul_bytes": lambda: b"<p>a\x00b</p>" * 10_000,
    "html_open_tags_100k": lambda: b"<html " * (100_000 // 6),
    "meta_content_100k": lambda: b"<meta content='a' " * (100_000 // 18),
    "script_unclosed_100k": lambda: b"<script" * (100_000 // 7),
    "comment_unclosed": lambda: b"<!--" + b"-" * 100_000,
    "many_lt": lambda: b"<" * 1_000_000,
    "date_0001": lambda: _dates_page("0001-01-01T00:00:00+01:00"),
    "date_0001_utc": lambda: _dates_page("0001-01-01"),
    "date_9999": lambda: _dates_page("9999-12-31T23:59:59-01:00"),
    "dates_feed": _dates_feed,
    "text_7mb": _big_text,
    "input_50mb": _fifty_mb,
    "binary_png": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100,
    "json_deep": lambda: b"[" * 100_000 + b"]" * 100_000,
}
LARGE = frozenset({"input_50mb", "text_7mb", "huge_attribute"})


@cache
def item(name: str) -> bytes:
    return BUILDERS[name]()


def gzip_of(data: bytes) -> bytes:
    return gzip.compress(data, 6)
