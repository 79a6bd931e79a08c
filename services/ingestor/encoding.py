"""Bytes to text: declared charsets first, then UTF-8, then a Cyrillic/Latin heuristic.

Real feeds in this region come in windows-1251 (Russian) and Latin-1/cp1252 without any
declaration; decoding them as UTF-8 with replacement would destroy every letter.
"""

from __future__ import annotations

import codecs
import re
import zlib

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
GZIP_MAGIC = b"\x1f\x8b"
_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)


class BinaryContent(ValueError):
    """The bytes are not text (an image, an archive, an executable...)."""


class TooLarge(ValueError):
    """Decompressed content is larger than allowed (e.g. a gzip bomb)."""


class CappedDecoder:
    """Undo one Content-Encoding (gzip, deflate) while streaming, never producing more than
    max_bytes in total: each call asks zlib for at most what is left of the budget, so a
    bomb stops at the cap instead of expanding in memory first."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS  # zlib-wrapped; raw deflate is tried on error
        else:
            raise BinaryContent(f"unsupported content encoding {encoding[:40]!r}")
        self._raw_fallback = encoding == "deflate"
        self._obj = zlib.decompressobj(self._wbits)
        self._started = False
        self.max_bytes = max_bytes
        self.produced = 0

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        while data:
            if self._obj.eof:
                # gzip allows several members back to back; anything else after the end is junk
                if self._wbits > zlib.MAX_WBITS and data.startswith(GZIP_MAGIC):
                    self._obj = zlib.decompressobj(self._wbits)
                else:
                    break
            try:
                chunk = self._obj.decompress(data, self.max_bytes - self.produced + 1)
            except zlib.error as exc:
                if self._raw_fallback and not self._started:
                    self._raw_fallback = False
                    self._wbits = -zlib.MAX_WBITS
                    self._obj = zlib.decompressobj(self._wbits)
                    continue
                raise BinaryContent(f"corrupt compressed data: {exc}") from exc
            self._started = True
            self.produced += len(chunk)
            if self.produced > self.max_bytes:
                raise TooLarge(f"compressed content expands beyond {self.max_bytes} bytes")
            out += chunk
            data = self._obj.unused_data if self._obj.eof else b""
        return bytes(out)

    def finish(self) -> bytes:
        tail = self._obj.flush(self.max_bytes - self.produced + 1)
        self.produced += len(tail)
        if self.produced > self.max_bytes:
            raise TooLarge(f"compressed content expands beyond {self.max_bytes} bytes")
        return tail


def maybe_gunzip(data: bytes, max_bytes: int) -> bytes:
    """Undo a gzip layer that was not announced by Content-Encoding (common for .xml.gz).
    Never produces more than max_bytes: TooLarge instead."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        decoder = CappedDecoder("gzip", max_bytes)
        return decoder.feed(data) + decoder.finish()
    except BinaryContent:
        # zlib refuses headers that Python's gzip module reads (reserved flag bits set):
        # skip the header by hand and inflate the raw stream under the same cap.
        return _lenient_gunzip(data, max_bytes)


def gunzip_head(data: bytes, size: int = 4096) -> bytes:
    """The first `size` decoded bytes of gzip data, to sniff what it is: never more."""
    try:
        return maybe_gunzip(data, size)
    except TooLarge:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            return inflater.decompress(data, size)
        except zlib.error:
            raw = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                return raw.decompress(data[_gzip_body_start(data, 0) :], size)
            except zlib.error as exc:
                raise BinaryContent(f"corrupt gzip data: {exc}") from exc


def _lenient_gunzip(data: bytes, max_bytes: int) -> bytes:
    out = bytearray()
    pos = 0
    while data.startswith(GZIP_MAGIC, pos):
        start = _gzip_body_start(data, pos)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data[start:], max_bytes - len(out) + 1)
        except zlib.error as exc:
            raise BinaryContent(f"corrupt gzip data: {exc}") from exc
        if len(out) > max_bytes:
            raise TooLarge(f"gzip content expands beyond {max_bytes} bytes")
        if not inflater.eof:
            break  # truncated: keep what was there, as the strict path does
        pos = len(data) - len(inflater.unused_data) + 8  # CRC32 and ISIZE
    if not out:
        raise BinaryContent("corrupt gzip data")
    return bytes(out)


def _gzip_body_start(data: bytes, pos: int) -> int:
    """Offset of the deflate stream of the gzip member at pos (RFC 1952 header)."""
    if len(data) < pos + 10 or data[pos + 2] != 8:
        raise BinaryContent("corrupt gzip data: bad header")
    flags = data[pos + 3]
    offset = pos + 10
    try:
        if flags & 0x04:  # FEXTRA
            offset += 2 + int.from_bytes(data[offset : offset + 2], "little")
        for bit in (0x08, 0x10):  # FNAME, FCOMMENT: zero-terminated
            if flags & bit:
                offset = data.index(b"\x00", offset) + 1
    except ValueError as exc:
        raise BinaryContent("corrupt gzip data: bad header") from exc
    if flags & 0x02:  # FHCRC
        offset += 2
    if offset > len(data):
        raise BinaryContent("corrupt gzip data: bad header")
    return offset


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


def to_utf8_xml(data: bytes, http_charset: str | None = None) -> tuple[bytes, str]:
    """Decode an XML document and re-encode it as UTF-8 with a matching declaration."""
    text, enc = decode_text(data, http_charset)
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("<?xml"):
        text = re.sub(
            r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2",
            r"\1\2utf-8\2",
            text,
            count=1,
        )
    return text.encode("utf-8"), enc
