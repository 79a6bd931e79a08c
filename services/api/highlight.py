"""Search highlights as plain-text segments, so the browser never parses article text as HTML.

Elasticsearch returns highlights HTML-encoded with <em> tags around the matches. nh3 first
removes anything but <em> (defence in depth), then the string is split into
[{text, em}] segments with entities decoded; the UI puts each into a text node.
"""

from __future__ import annotations

import html
import re

import nh3

_EM = re.compile(r"(<em>|</em>)")


def sanitise(fragment: str) -> str:
    return nh3.clean(fragment, tags={"em"}, attributes={}, strip_comments=True)


def segments(fragment: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    emphasised = False
    for part in _EM.split(sanitise(fragment)):
        if part == "<em>":
            emphasised = True
        elif part == "</em>":
            emphasised = False
        elif part:
            out.append({"text": html.unescape(part), "em": emphasised})
    return out


def shape(highlights: dict[str, list[str]]) -> dict[str, list[list[dict[str, object]]]]:
    return {name: [segments(f) for f in fragments] for name, fragments in highlights.items()}
