"""Pure parts of the UI's statement history and source-health views."""

from __future__ import annotations

import pytest

from services.api.changes import MAX_DIFF_LINE_CHARS, MAX_DIFF_LINES, diff_lines, history_view
from services.api.sources import shape_sources


def test_a_unified_diff_becomes_typed_lines_without_its_header() -> None:
    lines, cut = diff_lines("--- before\n+++ after\n@@ -1 +1 @@\n-old\n+new\n same")
    assert lines == [
        {"op": "hunk", "text": "@@ -1 +1 @@"},
        {"op": "del", "text": "old"},
        {"op": "add", "text": "new"},
        {"op": "same", "text": "same"},
    ]
    assert cut is False


def test_a_diff_is_bounded_in_lines_and_characters_and_says_so() -> None:
    long_line = "+" + "x" * 10_000
    lines, cut = diff_lines("\n".join([long_line] * (MAX_DIFF_LINES + 50)))
    assert len(lines) == MAX_DIFF_LINES and cut
    assert all(len(line["text"]) <= MAX_DIFF_LINE_CHARS for line in lines)


def test_a_report_without_history_or_with_an_odd_diff_has_no_lines() -> None:
    view = history_view({"report_id": "r1", "diff": {"not": "text"}})
    assert (view["version"], view["change"], view["diff"]) == (1, None, [])


def test_sources_are_shaped_flagged_first_with_known_fields_only() -> None:
    rows = [
        {"name": "B", "state": "ok", "secret": "x"},
        {"name": "A", "state": "ok"},
        {"name": "Z", "state": "failing"},
        {"name": "Y", "state": "silent"},
        "junk",
    ]
    shaped = shape_sources(rows)
    assert [s["name"] for s in shaped["sources"]] == ["Y", "Z", "A", "B"]
    assert shaped["flagged"] == 2 and "secret" not in shaped["sources"][0]
    with pytest.raises(ValueError):
        shape_sources({"not": "a list"})
