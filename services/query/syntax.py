"""The user query language, pure: words, "phrases", prefix*, AND / OR / NOT (or + | -) and
parentheses, and times (7d, 24h, an ISO date).

It is checked here, so a mistake gets a message a person understands (Elasticsearch's
simple_query_string never reports one, it silently matches something else), then rendered to
simple_query_string text twice: folded (transliterated, case-folded), which decides what
matches, so "Pashinyan" finds Пашинян and Փաշինյան (words of 5+ letters also match as
prefixes, a poor man's stemmer for declined names); and as typed, which only adds score and
gives the highlights. `services.query.bodies` puts these texts into request bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.fold import fold_text


class QueryError(ValueError):
    """A query or parameter the user must fix; the message says how."""


MAX_QUERY_CHARS = 1000
MAX_TERMS = 64

# ---- the user syntax --------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<phrase>"[^"]*")|(?P<open>\()|(?P<close>\))|(?P<op>\|\||&&|[|+])'
    r'|(?P<unclosed>")|(?P<term>[^\s()"|+]+))'
)
_WORDS_OP = {"AND": "AND", "OR": "OR", "NOT": "NOT", "&&": "AND", "+": "AND", "||": "OR", "|": "OR"}
_SQS_SPECIAL = re.compile(r'([+|\-"*()~\\&<>=!{}\[\]^:/?])')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Token:
    kind: str  # term | phrase | and | or | not | open | close
    text: str = ""
    prefix: bool = False


def tokenize(query: str) -> list[Token]:
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long ({len(query)} characters, at most {MAX_QUERY_CHARS})"
        )
    control = _CONTROL.search(query)
    if control:
        raise QueryError(
            f"the query contains a control character (U+{ord(control.group()):04X}) at position "
            f"{control.start()}: remove it"
        )
    tokens: list[Token] = []
    pos = 0
    query = query.strip()
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m["phrase"] is not None:
            tokens.append(Token("phrase", m["phrase"][1:-1]))
        elif m["open"]:
            tokens.append(Token("open"))
        elif m["close"]:
            tokens.append(Token("close"))
        elif m["op"]:
            tokens.append(Token(_WORDS_OP[m["op"]].lower()))
        elif m["unclosed"]:
            raise QueryError(
                'a quotation mark (") is not closed: phrases need one at each end, '
                'like "peace treaty"'
            )
        else:
            tokens.extend(_term_tokens(m["term"]))
    return tokens


def _term_tokens(raw: str) -> list[Token]:
    if raw in _WORDS_OP:
        return [Token(_WORDS_OP[raw].lower())]
    negated = False
    if raw.startswith("-") and len(raw) > 1:
        negated, raw = True, raw[1:]
    elif raw == "-":
        return [Token("not")]
    if raw.startswith(("*", "?")):
        raise QueryError(
            f"'{raw}': a wildcard may only end a word (ceasefir*), it cannot start one"
        )
    prefix = raw.endswith("*")
    stem = raw.rstrip("*")
    if "*" in stem or "?" in stem:
        raise QueryError(f"'{raw}': only one * at the end of a word is supported (ceasefir*)")
    if not fold_text(stem):
        return [Token("not")] if negated else []  # punctuation only: nothing to search
    if prefix and len(fold_text(stem)) < 2:
        raise QueryError(f"'{raw}': a prefix needs at least 2 letters before the *")
    term = Token("term", stem, prefix)
    return [Token("not"), term] if negated else [term]


def validate(tokens: Sequence[Token]) -> None:
    """Operators need operands, parentheses must pair: say which and where."""
    depth = 0
    terms = 0
    prev: Token | None = None
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.kind in ("term", "phrase"):
            terms += 1
            if tok.kind == "phrase" and not fold_text(tok.text):
                raise QueryError('an empty phrase ("") matches nothing; put words inside it')
        elif tok.kind in ("and", "or"):
            word = tok.kind.upper()
            if prev is None or prev.kind in ("and", "or", "not", "open"):
                raise QueryError(f"'{word}' needs a search term before it")
            if nxt is None or nxt.kind in ("and", "or", "close"):
                raise QueryError(f"'{word}' needs a search term after it")
        elif tok.kind == "not":
            if nxt is None or nxt.kind in ("and", "or", "close", "not"):
                raise QueryError("'NOT' (or -) must be followed by a search term or a (group)")
        elif tok.kind == "open":
            depth += 1
            if nxt is not None and nxt.kind == "close":
                raise QueryError("empty parentheses: put search terms inside them")
        elif tok.kind == "close":
            depth -= 1
            if depth < 0:
                raise QueryError("a closing parenthesis ')' has no matching '('")
        prev = tok
    if depth > 0:
        raise QueryError("a parenthesis '(' is not closed: add the matching ')'")
    if terms > MAX_TERMS:
        raise QueryError(f"too many search terms ({terms}, at most {MAX_TERMS})")
    if tokens and terms == 0:
        raise QueryError("the query has operators but no search terms")


def _escape(word: str) -> str:
    return _SQS_SPECIAL.sub(r"\\\1", word)


MIN_AUTO_PREFIX = 5


def _stem_prefix(word: str) -> str:
    """Names are declined: Пашиняна, Paşinyanın, Փաշինյանը fold to pashinyana, pashinyanin,
    pashinyany. Without a stemmer for every language, a longer word also matches as a prefix."""
    return word + "*" if len(word) >= MIN_AUTO_PREFIX and not word.isdigit() else word


def render(tokens: Sequence[Token], fold: Callable[[str], str] | None) -> str:
    """simple_query_string text; with `fold`, every word transliterated and case-folded."""
    out: list[str] = []
    for tok in tokens:
        if tok.kind == "term":
            if fold is None:
                out.append(_escape(tok.text) + ("*" if tok.prefix else ""))
                continue
            words = fold(tok.text).split()
            if tok.prefix:
                # "al-Ali*" folds to two words: each must occur, the last as a prefix
                text = " + ".join(words[:-1] + [words[-1] + "*"])
                out.append(f"({text})" if len(words) > 1 else text)
            elif len(words) == 1:
                out.append(_stem_prefix(words[0]))
            else:
                out.append('"' + " ".join(words) + '"')
        elif tok.kind == "phrase":
            text = fold(tok.text) if fold else tok.text.replace("\\", "\\\\")
            out.append('"' + text + '"')
        elif tok.kind == "and":
            out.append("+")
        elif tok.kind == "or":
            out.append("|")
        elif tok.kind == "not":
            out.append("-")
        elif tok.kind == "open":
            out.append("(")
        elif tok.kind == "close":
            out.append(")")
    text = ""
    for piece in out:
        glue = "" if text.endswith(("-", "(")) or piece == ")" or not text else " "
        text += glue + piece
    return text


def parse_user_query(query: str) -> tuple[str, str] | None:
    """(folded, as typed) simple_query_string texts; None for an empty query (match all)."""
    tokens = tokenize(query or "")
    if not tokens:
        return None
    validate(tokens)
    return render(tokens, fold_text), render(tokens, None)


# ---- times -------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d{1,5})\s*(m|min|h|d|w|y)$", re.I)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_time(value: str, now: datetime, name: str = "since") -> datetime:
    """'7d', '24h', '30m', '2w', '1y' before now, or an ISO date / date-time (UTC if no zone)."""
    text = value.strip()
    m = _RELATIVE.match(text)
    try:
        if m:
            return now - timedelta(seconds=int(m[1]) * _UNITS[m[2].lower()])
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:
        raise QueryError(
            f"{name}={value!r} is outside the calendar (years 1 to 9999): use a shorter duration "
            "or a date"
        ) from None
    except ValueError:
        raise QueryError(
            f"{name}={value!r} is not a time: use a duration like 7d, 24h, 30m, 2w "
            "or a date like 2026-11-01 or 2026-11-01T08:00:00Z"
        ) from None
