"""Refuse XML bombs and external entities before any parser expands them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from services.ingestor.encoding import maybe_gunzip, to_utf8_xml


class UnsafeXml(ValueError):
    """DTD internal subset, entity declaration or external reference: refused on purpose."""


def check_xml_safety(data: bytes) -> ET.Element | None:
    """Raise UnsafeXml for entity tricks. Returns the parsed root, or None when the document
    is not well-formed (lenient parsers may still read it: no entity can hide in it then,
    because the regex screen above already refused every declaration)."""
    head = data[:200_000].lower()
    if b"<!entity" in head or _has_internal_subset(head):
        raise UnsafeXml("XML declares entities or a DTD internal subset (possible XML bomb)")
    try:
        root: ET.Element = DET.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise UnsafeXml(f"refused XML: {exc!r}") from exc
    except ET.ParseError:
        return None
    return root


def _has_internal_subset(head: bytes) -> bool:
    """Whether some `<!doctype` reaches a `[` before its `>` (lower-cased input). One pass:
    a regex for this backtracks quadratically over thousands of unclosed `<!DOCTYPE`."""
    bracket = -1
    pos = 0
    while (start := head.find(b"<!doctype", pos)) >= 0:
        if bracket < start:
            bracket = head.find(b"[", start)
            if bracket < 0:
                return False
        close = head.find(b">", start)
        if close < 0 or bracket < close:
            return True
        pos = close + 1
    return False


def prepare_xml(
    data: bytes, http_charset: str | None, max_bytes: int
) -> tuple[bytes, ET.Element | None]:
    """Gunzip, decode to UTF-8 and check safety; returns (utf-8 bytes, root or None)."""
    raw = maybe_gunzip(data, max_bytes)
    utf8, _ = to_utf8_xml(raw, http_charset)
    return utf8, check_xml_safety(utf8)
