"""Bytes to text: declared charsets first, then UTF-8, then a Cyrillic/Latin heuristic. Shared
by the ingestor (what it fetches) and the extractor's `cwatch extract` (local files), so that
both read a page the same way.

Real feeds in this region come in windows-1251 (Russian) and Latin-1/cp1252 without any
declaration; decoding them as UTF-8 with replacement would destroy every letter.
"""

from __future__ import annotations

import codecs
import re

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)


class BinaryContent(ValueError):
    """The bytes are not text (an image, an archive, an executable...)."""


def normalize_charset(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'").lower())
    except LookupError:
        return None
    # Browsers read latin-1 labels as cp1252; real pages rely on that for quotes and dashes.
    return "cp1252" if codec.name in ("latin_1", "iso8859-1") else codec.name


def declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    match = _XML_DECL.match(head) or _META_CHARSET.search(head)
    return normalize_charset(match.group(1).decode("ascii")) if match else None


def looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if not sample:
        return False
    if any(
        sample.startswith(bom)
        for bom, enc in _BOMS
        if enc.startswith("utf-16") or enc.startswith("utf-32")
    ):
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > 0.05


def _cyrillic_score(data: bytes) -> float:
    """Share of high bytes that sit next to other high bytes.

    Cyrillic words in a single-byte charset are runs of high bytes; accented letters of
    Latin-script languages are isolated high bytes between ASCII letters.
    """
    high = [i for i, b in enumerate(data) if b >= 0xC0]
    if not high:
        return 0.0
    adjacent = 0
    n = len(data)
    for i in high:
        if (i > 0 and data[i - 1] >= 0xC0) or (i + 1 < n and data[i + 1] >= 0xC0):
            adjacent += 1
    return adjacent / len(high)


def guess_single_byte(data: bytes) -> str:
    return "cp1251" if _cyrillic_score(data[:200_000]) > 0.5 else "cp1252"


def decode_text(data: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """(text, encoding used). Never raises on undecodable bytes; raises BinaryContent."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="replace"), enc
    if looks_binary(data):
        raise BinaryContent("content is binary, not text")
    candidates = [normalize_charset(http_charset), declared_charset(data)]
    for declared in candidates:
        if not declared:
            continue
        if declared == "utf-8":
            try:
                return data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                continue  # a wrong declaration is common; let the heuristics decide
        return data.decode(declared, errors="replace"), declared
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data, exc):
            return data.decode("utf-8", errors="replace"), "utf-8"
    enc = guess_single_byte(data)
    return data.decode(enc, errors="replace"), enc


def _mostly_utf8(data: bytes, first_error: UnicodeDecodeError) -> bool:
    """Valid UTF-8 with a few broken sequences: keep it UTF-8 and replace the broken bytes."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return multibyte > 0 and bad <= max(3, multibyte // 20)
