"""User query + filters -> Elasticsearch request body. Pure: no client, no clock of its own.

The user syntax is small and safe: words, "phrases", prefix*, AND / OR / NOT (or + | -) and
parentheses. It is checked here, so a mistake gets a message a person understands (ES's
simple_query_string never reports one, it silently matches something else), then rendered to
simple_query_string twice: folded (transliterated, case-folded) against `folded_text`, which
decides what matches, so "Pashinyan" finds Пашинян and Փաշինյան (words of 5+ letters also
match as prefixes there, a poor man's stemmer for declined names); and as typed against
headline and body, which only adds score and gives the highlights.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.common import Affiliation
from schemas.report import EventType, FigureKind
from services.common.fold import fold_text


class QueryError(ValueError):
    """A query or parameter the user must fix; the message says how."""


MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_SIZE = 100
MAX_COLLAPSED_DEPTH = 1000  # from + size when collapsing by story (search_after cannot be used)
MAX_FACET_SIZE = 100
SEARCH_TIMEOUT = "2s"
SQS_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE|PRECEDENCE|ESCAPE"

FACET_FIELDS: dict[str, str] = {
    "language": "language",
    "source": "source.name",
    "country": "source.country",
    "affiliation": "source.affiliation",
    "entity": "entity_ids",
    "event": "event_types",
    "figure": "figure_kinds",
}
HISTOGRAM_INTERVALS = ("hour", "day", "week", "month", "year")
SORTS = ("relevance", "time")
LIST_SOURCE_EXCLUDES = ["folded_text", "paragraph_languages", "figures.evidence", "events.evidence"]

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


# ---- parameters -------------------------------------------------------------------------------

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


def _enum_values(values: Sequence[str], allowed: Sequence[str], name: str) -> list[str]:
    result = []
    for value in values:
        v = value.strip().lower()
        if v not in allowed:
            raise QueryError(f"{name}={value!r} is unknown; use one of: {', '.join(allowed)}")
        result.append(v)
    return result


@dataclass
class SearchParams:
    q: str = ""
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    affiliations: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    figure_kinds: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    relevant: bool | None = None
    story_id: str | None = None
    sort: str = "relevance"
    size: int = 20
    cursor: str | None = None
    collapse: bool = False
    facets: bool = False
    facet_size: int = 10
    interval: str = "day"
    highlight: bool = True


def filters(params: SearchParams, now: datetime) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []

    def terms(field_name: str, values: Sequence[str]) -> None:
        cleaned = sorted({v.strip() for v in values if v and v.strip()})
        if cleaned:
            clauses.append({"terms": {field_name: cleaned}})

    terms("language", [v.lower() for v in params.languages])
    terms("source.name", params.sources)
    for country in params.countries:
        if len(country.strip()) != 2 or not country.strip().isalpha():
            raise QueryError(f"country={country!r}: use a two-letter ISO code like AM, AZ, RU")
    terms("source.country", [c.upper() for c in params.countries])
    terms(
        "source.affiliation",
        _enum_values(params.affiliations, [a.value for a in Affiliation], "affiliation"),
    )
    # Several entities narrow the search: the report must mention all of them.
    for entity in dict.fromkeys(e.strip() for e in params.entities if e.strip()):
        clauses.append({"term": {"entity_ids": entity}})
    terms("event_types", _enum_values(params.event_types, [e.value for e in EventType], "event"))
    terms(
        "figure_kinds", _enum_values(params.figure_kinds, [f.value for f in FigureKind], "figure")
    )
    if params.story_id:
        clauses.append({"term": {"story_id": params.story_id}})
    if params.relevant is not None:
        clauses.append({"term": {"relevant": params.relevant}})
    since = parse_time(params.since, now, "since") if params.since else None
    until = parse_time(params.until, now, "until") if params.until else None
    if since and until and since > until:
        raise QueryError("since is after until: the time range is empty")
    if since or until:
        rng: dict[str, str] = {}
        if since:
            rng["gte"] = since.isoformat()
        if until:
            rng["lte"] = until.isoformat()
        clauses.append({"range": {"date": rng}})
    return clauses


def text_query(q: str) -> dict[str, Any] | None:
    parsed = parse_user_query(q)
    if parsed is None:
        return None
    folded, typed = parsed
    return {
        "bool": {
            "must": [
                {
                    "simple_query_string": {
                        "query": folded,
                        "fields": ["folded_text"],
                        "default_operator": "and",
                        "flags": SQS_FLAGS,
                    }
                }
            ],
            "should": [
                {
                    "simple_query_string": {
                        "query": typed,
                        "fields": ["headline^3", "body"],
                        "default_operator": "and",
                        "flags": SQS_FLAGS,
                        "lenient": True,
                    }
                }
            ],
        }
    }


def build_query(params: SearchParams, now: datetime) -> dict[str, Any]:
    must = text_query(params.q)
    return {
        "bool": {
            "must": [must] if must else [{"match_all": {}}],
            "filter": filters(params, now),
        }
    }


# ---- paging -----------------------------------------------------------------------------------


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, expected_mode: str) -> dict[str, Any]:
    bad = QueryError(
        "cursor is not valid for this search: pass next_cursor from the previous page unchanged, "
        "with the same sort and collapse settings"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    if not isinstance(state, dict) or state.get("m") != expected_mode:
        raise bad
    return state


def _mode(params: SearchParams) -> str:
    return f"{params.sort}{'-collapse' if params.collapse else ''}"


_LONG = 2**63


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _valid_search_after(after: Any, sort: str) -> bool:
    """A cursor carries the sort values of a hit: [_score,] date (epoch ms), report_id. Other
    values were not made by next_cursor, and Elasticsearch would refuse them in its own words."""
    if not isinstance(after, list) or len(after) != len(sort_clause(sort)):
        return False
    *scores, date, report_id = after
    return (
        all(_is_number(score) for score in scores)
        and isinstance(date, int)
        and not isinstance(date, bool)
        and -_LONG <= date < _LONG
        and isinstance(report_id, str)
    )


def sort_clause(sort: str) -> list[dict[str, Any]]:
    by_time: list[dict[str, Any]] = [{"date": {"order": "desc"}}, {"report_id": {"order": "asc"}}]
    if sort == "time":
        return by_time
    return [{"_score": {"order": "desc"}}, *by_time]


def next_cursor(params: SearchParams, hits: Sequence[dict[str, Any]], offset: int) -> str | None:
    """Opaque cursor for the page after `hits`; None when this page was the last one."""
    if len(hits) < params.size:
        return None
    if params.collapse:
        nxt = offset + len(hits)
        if nxt + params.size > MAX_COLLAPSED_DEPTH:
            return None
        return encode_cursor({"m": _mode(params), "f": nxt})
    return encode_cursor({"m": _mode(params), "a": hits[-1]["sort"]})


# ---- request bodies ---------------------------------------------------------------------------


def aggregations(params: SearchParams, since_given: bool) -> dict[str, Any]:
    if params.interval not in HISTOGRAM_INTERVALS:
        raise QueryError(
            f"interval={params.interval!r} is unknown; use one of: {', '.join(HISTOGRAM_INTERVALS)}"
        )
    if not 1 <= params.facet_size <= MAX_FACET_SIZE:
        raise QueryError(f"facet_size must be between 1 and {MAX_FACET_SIZE}")
    aggs: dict[str, Any] = {
        name: {"terms": {"field": f, "size": params.facet_size}} for name, f in FACET_FIELDS.items()
    }
    aggs["stories"] = {"cardinality": {"field": "story_id"}}
    aggs["histogram"] = {
        "date_histogram": {
            "field": "date",
            "calendar_interval": params.interval,
            "min_doc_count": 0 if since_given else 1,
        }
    }
    return aggs


def build_search(params: SearchParams, now: datetime) -> dict[str, Any]:
    """The body of `POST <alias>/_search`, checked; raises QueryError."""
    if params.sort not in SORTS:
        raise QueryError(f"sort={params.sort!r} is unknown; use relevance or time")
    if not 1 <= params.size <= MAX_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_SIZE} (page with the cursor)")
    body: dict[str, Any] = {
        "query": build_query(params, now),
        "size": params.size,
        "sort": sort_clause(params.sort),
        "timeout": SEARCH_TIMEOUT,
        "track_total_hits": 10_000,
        "_source": {"excludes": LIST_SOURCE_EXCLUDES},
    }
    if params.cursor:
        state = decode_cursor(params.cursor, _mode(params))
        if params.collapse:
            offset = state.get("f")
            if not isinstance(offset, int) or offset < 0:
                raise QueryError("cursor is not valid for this search")
            if offset + params.size > MAX_COLLAPSED_DEPTH:
                raise QueryError(
                    f"collapsed results can be paged {MAX_COLLAPSED_DEPTH} deep; narrow the query"
                )
            body["from"] = offset
        else:
            after = state.get("a")
            if not _valid_search_after(after, params.sort):
                raise QueryError("cursor is not valid for this search")
            body["search_after"] = after
    if params.collapse:
        # Version counts come from one terms aggregation afterwards (build_version_counts):
        # inner_hits would run one more search per hit, several times slower.
        body["collapse"] = {"field": "story_id"}
    if params.highlight and params.q.strip():
        body["highlight"] = {
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "encoder": "html",
            "fields": {
                "headline": {"number_of_fragments": 0},
                "body": {"fragment_size": 180, "number_of_fragments": 2},
            },
        }
    if params.facets:
        body["aggs"] = aggregations(params, bool(params.since))
    return body


def build_version_counts(
    params: SearchParams, now: datetime, story_ids: Sequence[str]
) -> dict[str, Any]:
    """How many reports matching the same query each story on a collapsed page has."""
    return {
        "query": build_query(params, now),
        "size": 0,
        "timeout": SEARCH_TIMEOUT,
        "aggs": {
            "versions": {
                "terms": {"field": "story_id", "include": list(story_ids), "size": len(story_ids)}
            }
        },
    }


def build_facets(params: SearchParams, now: datetime) -> dict[str, Any]:
    return {
        "query": build_query(params, now),
        "size": 0,
        "timeout": SEARCH_TIMEOUT,
        "track_total_hits": True,
        "aggs": aggregations(params, bool(params.since)),
    }


def build_story_versions(story_id: str, size: int = 100) -> dict[str, Any]:
    return {
        "query": {"term": {"story_id": story_id}},
        "size": size,
        "sort": [{"date": {"order": "asc"}}, {"report_id": {"order": "asc"}}],
        "_source": {"excludes": ["folded_text", "body", "paragraph_languages"]},
        "timeout": SEARCH_TIMEOUT,
    }


def build_similar(index: str, report_id: str, story_id: str, size: int = 10) -> dict[str, Any]:
    """More like this, on the folded text too so that similar reports in other scripts count;
    other versions of the same story are left out (the report page lists them already)."""
    if not 1 <= size <= MAX_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_SIZE}")
    return {
        "query": {
            "bool": {
                "must": [
                    {
                        "more_like_this": {
                            "fields": ["headline", "body", "folded_text"],
                            "like": [{"_index": index, "_id": report_id}],
                            "min_term_freq": 1,
                            "min_doc_freq": 1,
                            "max_query_terms": 40,
                            "minimum_should_match": "10%",
                        }
                    }
                ],
                "must_not": [{"term": {"story_id": story_id}}],
            }
        },
        "size": size,
        "_source": {"excludes": LIST_SOURCE_EXCLUDES},
        "timeout": SEARCH_TIMEOUT,
    }
