"""Canonical URLs and stable article ids.

Two URLs of one article (tracking parameters, fragment, AMP or mobile variant, http vs
https, www or not) must get the same article_id, so duplicates are recognised across
sources and restarts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "yclid", "msclkid", "igshid", "mc_cid",
        "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ocid", "cmpid", "cmp", "ref_src",
        "ref_url", "spm", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3",
        "at_custom4", "ito", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
        "ns_fee", "rss", "rss_source", "feature", "share", "s_cid", "ftag", "xtor",
        "amp", "outputtype", "utm",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_")
MOBILE_HOST_PREFIXES = ("m.", "mobile.", "amp.", "mob.")
# Path endings of an article's AMP variant; "/amp" alone is a page of its own.
_AMP_SUFFIXES = ("/amp/", "/amp", ".amp", "/amp.html")
_AMP_PAGES = ("/amp", "/amp/")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that may stay unescaped in a path; everything else is %XX upper case. Not '%':
# the path is unescaped first, so a '%' left is a literal one ('%2541' -> '%41' -> '%2541'),
# and escaping it is what makes a second pass give the same URL.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class InvalidUrl(ValueError):
    """The string is not an absolute http(s) URL."""


def _host(netloc_host: str) -> str:
    host = netloc_host.strip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # keep what we have: some hosts are not valid IDNA but still resolvable
    return host


def _fold_mobile(host: str) -> str:
    """Every mobile prefix, not only the first ('m.amp.example.org'): a second pass must find
    none left."""
    folded = True
    while folded:
        folded = False
        for prefix in MOBILE_HOST_PREFIXES:
            if host.startswith(prefix) and host.count(".") >= 2:
                host, folded = host[len(prefix) :], True
    return host


def _strip_amp(path: str) -> str:
    """The path without its AMP endings, all of them ('/a/amp/amp'): a second pass must find
    none left. A suffix test per ending, so a long path costs one pass."""
    while path not in _AMP_PAGES:
        lowered = path.lower()
        suffix = next((s for s in _AMP_SUFFIXES if lowered.endswith(s)), None)
        if suffix is None:
            break
        path = path[: -len(suffix)] or "/"
    return path


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """The canonical form of an http(s) URL: what users should see and what ids hash."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise InvalidUrl(f"not a usable URL: {url[:200]!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not hostname:
        raise InvalidUrl(f"not an absolute http(s) URL: {url[:200]!r}")
    host = _fold_mobile(_host(hostname))
    if not host:  # 'http://./': nothing left to fetch, nor to give a second pass
        raise InvalidUrl(f"no host in {url[:200]!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"bad port in {url[:200]!r}") from exc
    netloc = host if ":" not in host else f"[{host}]"
    if port and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    path = _strip_amp(re.sub(r"/{2,}", "/", path))
    query_pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query_pairs.sort()
    query = urlencode(query_pairs, doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def identity_key(canonical_url: str) -> str:
    """What the id hashes: the canonical URL without scheme and leading www."""
    parts = urlsplit(canonical_url)
    netloc = parts.netloc
    if netloc.startswith("www."):
        netloc = netloc[4:]
    return urlunsplit(("", netloc, parts.path, parts.query, "")).lstrip("/")


# normalize_text works on pieces of about this many characters, each cut just after a
# whitespace character: a 50 MB text costs a piece's words at a time, not 50 MB of words.
_PIECE = 1 << 16
_SPACE = re.compile(r"\s")  # one character class, the same characters as str.split()'s


def _normalized_pieces(text: str) -> Iterator[str]:
    """normalize_text(text), in pieces to be joined with single spaces. Cutting after a
    whitespace character changes nothing: no word spans two pieces, and NFKC composes no
    character with a preceding whitespace character (checked for all of Unicode), so the
    pieces joined are exactly the whole text normalised."""
    start = 0
    while start < len(text):
        end = start + _PIECE
        if end < len(text):
            space = _SPACE.search(text, end)
            end = space.end() if space else len(text)
        piece = text[start:end]
        start = end
        if not piece.isascii() and not unicodedata.is_normalized("NFKC", piece):
            piece = unicodedata.normalize("NFKC", piece)
        words = " ".join(piece.casefold().split())
        if words:
            yield words


def normalize_text(text: str) -> str:
    """Case-, whitespace- and Unicode-form-insensitive text, for content hashing."""
    return " ".join(_normalized_pieces(text))


def content_hash(*parts: str | None, raw: str | None = None) -> str:
    """Hash of the normalised text parts, plus `raw` as it is (HTML is not worth normalising:
    two pages of one story differ in their markup anyway). The parts are hashed as they are
    normalised, piece by piece: the same digest as hashing normalize_text of each part
    joined by newlines, in memory bounded by a piece, however long the text."""
    digest = hashlib.sha256()
    for index, part in enumerate(p for p in parts if p):
        if index:
            digest.update(b"\n")
        for number, words in enumerate(_normalized_pieces(part)):
            digest.update((" " + words if number else words).encode("utf-8"))
    if raw:
        digest.update(b"\x00")
        for start in range(0, len(raw), _PIECE):  # UTF-8 is per character: cut anywhere
            digest.update(raw[start : start + _PIECE].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def article_id_for_url(canonical_url: str) -> str:
    digest = hashlib.sha256(b"url\x00" + identity_key(canonical_url).encode("utf-8"))
    return "u" + digest.hexdigest()[:31]


def article_id_for_content(*parts: str | None, digest: str | None = None) -> str:
    return "c" + (digest or content_hash(*parts))[:31]


def article_identity(
    url: str | None, *content: str | None, digest: str | None = None
) -> tuple[str, str | None]:
    """(article_id, canonical_url): from the URL when it is usable, else from the content
    (`digest`, when given, is content_hash of that content, computed once by the caller)."""
    if url:
        try:
            canonical = canonicalize_url(url)
        except InvalidUrl:
            canonical = None
        if canonical:
            return article_id_for_url(canonical), canonical
    return article_id_for_content(*content, digest=digest), None
