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
