"""Bytes to text: compressed bodies (capped), XML re-encoding, and the charset detection of
services/common/charset.py (shared with `cwatch extract`), re-exported here."""

from __future__ import annotations

import re
import zlib

from services.common.charset import (
    BinaryContent,
    declared_charset,
    decode_text,
    guess_single_byte,
    looks_binary,
    normalize_charset,
)

GZIP_MAGIC = b"\x1f\x8b"
__all__ = [
    "GZIP_MAGIC",
    "BinaryContent",
    "CappedDecoder",
    "TooLarge",
    "gunzip_head",
    "maybe_gunzip",
    "to_utf8_xml",
    "declared_charset",
    "decode_text",
    "guess_single_byte",
    "looks_binary",
    "normalize_charset",
]


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
