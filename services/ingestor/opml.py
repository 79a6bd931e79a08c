"""OPML import and export of feed lists, the convention every feed reader uses.

Read through the same XML safety screen as feeds (no DTD tricks, no entities). Outlines
carry the feed in `xmlUrl`; cwatch writes its own facts (country, language, affiliation,
official) as extra outline attributes, which feed readers ignore and an import reads back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime

from pydantic import ValidationError

from schemas.common import Affiliation, SourceKind
from services.ingestor.adapters.xmlsafe import UnsafeXml, prepare_xml
from services.ingestor.encoding import BinaryContent, TooLarge
from services.ingestor.sources import SourceEntry

MAX_OPML_BYTES = 10 * 1024 * 1024
MAX_OUTLINES = 10_000


class OpmlError(ValueError):
    pass


def read_opml(
    data: bytes,
    *,
    country: str | None = None,
    language: str | None = None,
    affiliation: Affiliation = Affiliation.UNKNOWN,
) -> tuple[list[SourceEntry], list[str]]:
    """Feed outlines as source entries (defaults for what the outline does not say), and a
    reason for each outline that could not be used."""
    try:
        _, root = prepare_xml(data, None, MAX_OPML_BYTES)
    except (UnsafeXml, BinaryContent, TooLarge) as exc:
        raise OpmlError(f"refused OPML: {exc}") from exc
    if root is None or root.tag.lower() != "opml":
        raise OpmlError("not an OPML document")
    entries: list[SourceEntry] = []
    problems: list[str] = []
    for count, outline in enumerate(root.iter("outline")):
        if count >= MAX_OUTLINES:
            problems.append(f"more than {MAX_OUTLINES} outlines: the rest were not read")
            break
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url:
            continue  # a folder
        name = outline.get("title") or outline.get("text") or url
        fields = {
            "name": name.strip()[:300] or url[:300],
            "url": url.strip(),
            "kind": outline.get("cwatchKind") or SourceKind.FEED.value,
            "country": outline.get("cwatchCountry") or country,
            "language": outline.get("language") or outline.get("cwatchLanguage") or language,
            "affiliation": outline.get("cwatchAffiliation") or affiliation.value,
            "official": outline.get("cwatchOfficial") == "true",
        }
        try:
            entries.append(SourceEntry.model_validate(fields))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            problems.append(f"{url[:200]}: {where}: {first['msg']}")
    return entries, problems


def write_opml(entries: list[SourceEntry], title: str = "caucasus-watch sources") -> bytes:
    """OPML 2.0 of the feed sources (other kinds are not feeds a reader could follow)."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(opml, "body")
    for entry in entries:
        if entry.kind != SourceKind.FEED:
            continue
        attrs = {
            "type": "rss",
            "text": entry.name,
            "title": entry.name,
            "xmlUrl": entry.url,
            "language": entry.language,
            "cwatchCountry": entry.country,
            "cwatchAffiliation": entry.affiliation.value,
        }
        if entry.official:
            attrs["cwatchOfficial"] = "true"
        ET.SubElement(body, "outline", attrs)
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"
