from __future__ import annotations

from pathlib import Path

import pytest

from services.ingestor.encoding import (
    BinaryContent,
    TooLarge,
    decode_text,
    maybe_gunzip,
    to_utf8_xml,
)


def test_undeclared_windows_1251_russian_is_decoded_as_cyrillic(fixtures: Path) -> None:
    text, encoding = decode_text((fixtures / "cp1251_undeclared.xml").read_bytes())
    assert encoding == "cp1251"
    assert "Пашинян и Алиев встретились в Брюсселе" in text


def test_undeclared_latin1_is_decoded_with_accents(fixtures: Path) -> None:
    text, encoding = decode_text((fixtures / "latin1_undeclared.rss").read_bytes())
    assert encoding == "cp1252"
    assert "Arménia e Azerbaijão" in text


def test_declared_windows_1251_in_real_feed_is_respected(feeds_dir: Path) -> None:
    text, encoding = decode_text((feeds_dir / "node-feedparser" / "iconv.xml").read_bytes())
    assert encoding == "cp1251"
    assert "Новости Оренбурга" in text


def test_real_latin1_feed_without_declaration_is_decoded(feeds_dir: Path) -> None:
    text, _ = decode_text((feeds_dir / "rss-parser" / "uolNoticias.rss").read_bytes())
    assert "Últimas Notícias" in text


def test_invalid_utf8_keeps_the_valid_text_and_replaces_the_broken_bytes(fixtures: Path) -> None:
    text, encoding = decode_text((fixtures / "invalid_utf8.txt").read_bytes())
    assert encoding == "utf-8"
    assert "Şuşa, Xankəndi" in text and "\ufffd" in text


def test_binary_content_is_refused(fixtures: Path) -> None:
    with pytest.raises(BinaryContent):
        decode_text((fixtures / "binary.html").read_bytes())


def test_gzip_without_content_encoding_is_unpacked(feeds_dir: Path) -> None:
    data = maybe_gunzip((feeds_dir / "node-feedparser" / "compressed.xml").read_bytes(), 10**7)
    assert data.startswith(b"<?xml")


def test_gzip_bomb_is_refused() -> None:
    import gzip

    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(TooLarge):
        maybe_gunzip(bomb, 1_000_000)


def test_xml_is_reencoded_to_utf8_with_a_matching_declaration(feeds_dir: Path) -> None:
    utf8, source_encoding = to_utf8_xml((feeds_dir / "node-feedparser" / "iconv.xml").read_bytes())
    assert source_encoding == "cp1251"
    assert utf8.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert "Оренбург".encode() in utf8


def _gzip_bomb(megabytes: int, flags: int = 0) -> bytes:
    """A gzip member of `megabytes` MB of zeros built without holding them in memory;
    `flags` sets FLG bits (0x20 is reserved: zlib refuses it, Python's gzip module does not)."""
    import struct
    import zlib

    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    body = b"".join(deflate.compress(block) for _ in range(megabytes)) + deflate.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff"
    return header + body + struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)


@pytest.mark.parametrize("flags", [0x00, 0x20, 0xE0])
def test_gzip_bomb_is_refused_at_the_cap_without_expanding_in_memory(flags: int) -> None:
    import tracemalloc

    bomb = _gzip_bomb(60, flags)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            maybe_gunzip(bomb, 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_gzip_with_reserved_header_bits_still_unpacks_when_small() -> None:
    import zlib

    member = _gzip_bomb(1, 0x20)
    assert maybe_gunzip(member, 2 << 20) == b"\0" * (1 << 20)
    assert maybe_gunzip(member + member, 3 << 20) == b"\0" * (2 << 20)
    assert zlib.crc32(maybe_gunzip(member[:-8], 2 << 20)) == zlib.crc32(b"\0" * (1 << 20))


def test_corrupt_gzip_is_binary_content() -> None:
    with pytest.raises(BinaryContent):
        maybe_gunzip(b"\x1f\x8b\x08\x20" + b"\xff" * 100, 1000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
def test_streaming_decoder_stops_at_the_cap_chunk_by_chunk(encoding: str) -> None:
    import zlib

    from services.ingestor.encoding import CappedDecoder

    wbits = {"gzip": 31, "deflate": 15, "deflate-raw": -15}[encoding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    data = b"".join(packer.compress(b"a" * (1 << 20)) for _ in range(20)) + packer.flush()
    small = zlib.compressobj(9, zlib.DEFLATED, wbits)
    ok = small.compress(b"hello " * 1000) + small.flush()

    decoder = CappedDecoder(encoding.split("-")[0], 6000)
    assert (
        b"".join(decoder.feed(ok[i : i + 7]) for i in range(0, len(ok), 7)) + (decoder.finish())
        == b"hello " * 1000
    )
    decoder = CappedDecoder(encoding.split("-")[0], 1_000_000)
    with pytest.raises(TooLarge):
        for i in range(0, len(data), 4096):
            decoder.feed(data[i : i + 4096])
    assert decoder.produced <= 1_000_001


def test_streaming_decoder_refuses_unknown_encodings() -> None:
    from services.ingestor.encoding import CappedDecoder

    with pytest.raises(BinaryContent):
        CappedDecoder("br", 100)


@pytest.mark.parametrize("flags", [0x00, 0x20])
def test_sniffing_a_gzip_bomb_inflates_only_its_head(flags: int) -> None:
    import tracemalloc

    from services.ingestor.encoding import gunzip_head

    bomb = _gzip_bomb(60, flags)
    tracemalloc.start()
    try:
        assert gunzip_head(bomb, 4096) == b"\0" * 4096
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
