"""Input generators for the fuzz harness: structured enough to reach deep into the parsers
(feeds that parse, pages with heads, URLs with every part), hostile enough to hit their edges
(control characters, entities, odd encodings, unclosed markup, extreme dates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape

from hypothesis import strategies as st

CONTROL = "".join(chr(c) for c in (*range(0x20), 0x7F, 0x85, 0x9F, 0xA0, 0x2028, 0xFEFF))
# Text with the characters parsers trip on, mixed into ordinary letters of the region's scripts.
nasty_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(CONTROL + "<>&\"'=/\\%#?;:[]@!*()-_.~+ \t\n\r"),
        st.sampled_from("abcXYZ019 ЁёПашинянԱլիևəşğıçö漢字🙂\ufffd\U0010ffff"),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)

# -- URLs -------------------------------------------------------------------------------------

_hosts = st.one_of(
    st.sampled_from(
        [
            "example.org",
            "www.example.org",
            "m.news.example.am",
            "amp.example.az",
            "ПРИМЕР.рф",
            "xn--e1afmkfd.xn--p1ai",
            "127.0.0.1",
            "[::1]",
            "[2002:7f00:1::]",
            "[fe80::1%25eth0]",
            "a..b",
            "",
            ".",
            "exa mple.org",
            "xn--",
            "a" * 70 + ".org",
            "\u0001.org",
        ]
    ),
    st.from_regex(r"[a-zA-Z0-9.\-]{1,30}", fullmatch=True),
    nasty_text,
)
_ports = st.one_of(
    st.just(""),
    st.sampled_from([":80", ":443", ":8080", ":0", ":65535", ":65536", ":-1", ":x", ":"]),
    st.integers(0, 99999).map(lambda p: f":{p}"),
)
_segments = st.one_of(
    st.sampled_from(["amp", "a.amp", "amp.html", "%2F", "%25", "%2541", "%", "%zz", "..", ".", ""]),
    nasty_text,
)
_paths = st.lists(_segments, max_size=6).map(lambda parts: "/" + "/".join(parts))
_query = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["utm_source", "fbclid", "id", "amp", "a", "UTM_X"]), nasty_text),
        nasty_text,
    ),
    max_size=5,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
structured_urls = st.builds(
    lambda scheme, host, port, path, query, frag: (
        f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "") + frag
    ),
    st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript", ""]),
    _hosts,
    _ports,
    _paths,
    _query,
    st.one_of(st.just(""), nasty_text.map(lambda f: "#" + f)),
)
urls = st.one_of(structured_urls, nasty_text, st.text(max_size=200))

# -- dates ------------------------------------------------------------------------------------

extreme_datetimes = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.one_of(
            st.just(UTC),
            st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
        ),
    ),
    st.sampled_from(
        [
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ]
    ),
)
date_strings = st.one_of(
    extreme_datetimes.map(datetime.isoformat),
    extreme_datetimes.map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S %z")),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "Mon, 01 Jan 0001 00:00:00 +0000",
            "Fri, 31 Dec 9999 23:59:59 -1200",
            "Sat, 01 Jan 2000 00:00:00 +9999",
            "2026-02-30",
            "yesterday",
            "",
        ]
    ),
    nasty_text,
)

# -- markup -----------------------------------------------------------------------------------

_HTML_BITS = [
    "<html ",
    "<html lang='hy'>",
    "<head>",
    "</head>",
    "<meta ",
    "content='a' ",
    'property="og:title" ',
    'name="twitter:title" ',
    'property="article:published_time" ',
    'property="og:url" ',
    "<meta charset=windows-1251>",
    '<link rel="canonical" href="',
    "http://example.org/a",
    "&#127;",
    "&#1;",
    "&amp;",
    "&#xFFFFFF;",
    "<title>",
    "</title>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<article>",
    "<br>",
    "<",
    ">",
    '"',
    "'",
    "=",
    "\n",
    "\x00",
    "Պաշինյանը հանդիպեց Ալիևին։ ",
    "Pashinyan met Aliyev in Brussels on Tuesday. ",
    "Пашинян встретился с Алиевым. ",
]
html_docs = st.lists(
    st.one_of(st.sampled_from(_HTML_BITS), nasty_text, date_strings), max_size=40
).map("".join)


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _xml_text(value: str, raw: bool) -> str:
    return value if raw else escape(value)


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    """RSS 2.0, RSS 1.0 or Atom with fuzzed fields; sometimes a field is left unescaped."""
    kind = draw(st.sampled_from(["rss", "rdf", "atom"]))
    encoding = draw(st.sampled_from(["utf-8", "windows-1251", "iso-8859-1", "utf-16", "bogus"]))
    raw = draw(st.booleans())
    fields = st.tuples(nasty_text, st.one_of(urls, nasty_text), html_docs, date_strings, nasty_text)
    items = draw(st.lists(fields, max_size=4))
    title = _xml_text(draw(nasty_text), raw)
    if kind == "atom":
        body = "".join(
            f'<entry><title>{_xml_text(t, raw)}</title><link href="{_attr(link)}"/>'
            f'<id>{_xml_text(g, raw)}</id><content type="html">{escape(h)}</content>'
            f"<updated>{_xml_text(d, raw)}</updated></entry>"
            for t, link, h, d, g in items
        )
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>{body}</feed>'
    else:
        body = "".join(
            f"<item><title>{_xml_text(t, raw)}</title><link>{_xml_text(link, raw)}</link>"
            f"<description>{escape(h)}</description><pubDate>{_xml_text(d, raw)}</pubDate>"
            f"<guid>{_xml_text(g, raw)}</guid></item>"
            for t, link, h, d, g in items
        )
        if kind == "rss":
            doc = f'<rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'
        else:
            doc = (
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/"><channel><title>'
                f"{title}</title></channel>{body}</rdf:RDF>"
            )
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    codec = encoding if encoding != "bogus" else "utf-8"
    return (head + doc).encode(codec, "replace")


@st.composite
def sitemaps(draw: st.DrawFn) -> bytes:
    index = draw(st.booleans())
    raw = draw(st.booleans())
    locs = draw(
        st.lists(st.tuples(st.one_of(urls, nasty_text), date_strings, nasty_text), max_size=5)
    )
    if index:
        body = "".join(f"<sitemap><loc>{_xml_text(u, raw)}</loc></sitemap>" for u, _, _ in locs)
        return f"<sitemapindex>{body}</sitemapindex>".encode()
    body = "".join(
        f"<url><loc>{_xml_text(u, raw)}</loc><lastmod>{_xml_text(d, raw)}</lastmod>"
        f'<news:news xmlns:news="n"><news:title>{_xml_text(t, raw)}</news:title>'
        f"<news:publication_date>{_xml_text(d, raw)}</news:publication_date></news:news></url>"
        for u, d, t in locs
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()


encodings = st.sampled_from(["utf-8", "cp1251", "latin-1", "utf-16", "utf-16-le", "koi8-r"])
# Bytes as they come off the wire: encoded markup, raw bytes, or markup with stray bytes in it.
wire_bytes = st.one_of(
    st.tuples(html_docs, encodings).map(lambda p: p[0].encode(p[1], "replace")),
    st.binary(max_size=300),
    st.tuples(html_docs, st.binary(max_size=20), html_docs).map(
        lambda p: p[0].encode() + p[1] + p[2].encode("cp1251", "replace")
    ),
)
