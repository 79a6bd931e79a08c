"""Outlet names a text carries that are not what it tells: the site's own name after its
headline ("Ceasefire holds near Tavush — Yerevan Today") and a credit after a paragraph's last
sentence ("... the ministry said. (Ararat Vestnik)", a moved agency line "(YEREVAN, April 1
(Armenpress))"). "Yerevan Today" is not a report about Yerevan: the names found there are not
the report's entities, else a re-published copy names a place its original does not (and is
not taken for a copy), and a story's lead gains a place the event is not at.
"""

from __future__ import annotations

import re

# " — Name", " – Name", " - Name", " | Name" closing a headline
_TAG_SEPARATORS = ("—", "–", "-", "|", "::")
# A parenthesis (one level of nesting) after the last sentence of a paragraph: a credit, not
# part of any sentence. "(Syunik province)." before the full stop is prose and stays. The
# blanks before it are one run, then a newline and one more: two runs in a row backtracked
# quadratically over a long stretch of blanks.
_CREDIT = re.compile(
    r"(?<=[.!?…\"»”])(?P<gap>[ \t]*(?:\n[ \t]*)?)\((?:[^()\n]|\([^()\n]{0,40}\)){2,80}\)[ \t]*(?=\n|$)"
)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def strip_outlet_tag(headline: str, outlet: str) -> str:
    """The headline without its outlet's name closing it."""
    name = _norm(outlet)
    if not name:
        return headline
    for sep in _TAG_SEPARATORS:
        head, found, tail = headline.rpartition(f" {sep} ")
        if found and head.strip() and _norm(tail) == name:
            return head.rstrip()
    return headline


def strip_credits(body: str) -> str:
    """The body without credits closing its paragraphs."""
    return _CREDIT.sub("", body)
