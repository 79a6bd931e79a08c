"""UI helpers: highlights reach the browser as text, stories are split by side."""

from __future__ import annotations

from services.api.highlight import segments
from services.query.sides import claims, group_by_side, side_of


def test_highlight_keeps_matches_and_turns_markup_into_text() -> None:
    fragment = "a &lt;script&gt;alert(1)&lt;/script&gt; <em>ceasefire</em> &amp; more"
    assert segments(fragment) == [
        {"text": "a <script>alert(1)</script> ", "em": False},
        {"text": "ceasefire", "em": True},
        {"text": " & more", "em": False},
    ]


def test_highlight_drops_any_tag_but_em() -> None:
    segs = segments('<img src=x onerror="alert(1)"><em>Shusha</em><b>x</b>')
    assert segs == [{"text": "Shusha", "em": True}, {"text": "x", "em": False}]


def test_sources_are_grouped_by_side_in_a_fixed_order() -> None:
    versions = [
        {"report_id": "1", "source": {"name": "Azatutyun", "country": "AM"}},
        {"report_id": "2", "source": {"name": "APA", "country": "AZ"}},
        {"report_id": "3", "source": {"name": "TASS", "country": "RU"}},
        {"report_id": "4", "source": {"name": "Anadolu", "country": "TR"}},
        {"report_id": "5", "source": {"name": "Reuters", "country": "GB"}},
        {"report_id": "6", "source": {"name": "Unknown"}},
    ]
    columns = group_by_side(versions)
    assert [c["label"] for c in columns] == [
        "Armenian",
        "Azerbaijani",
        "Russian",
        "Turkish",
        "International",
    ]
    assert [[v["report_id"] for v in c["versions"]] for c in columns] == [
        ["1"],
        ["2"],
        ["3"],
        ["4"],
        ["5", "6"],
    ]
    assert side_of({"country": "am"}) == "armenian"


def test_claims_name_who_made_them_or_fall_back_to_the_outlet() -> None:
    versions = [
        {
            "report_id": "1",
            "source": {"name": "APA", "country": "AZ"},
            "figures": [
                {"kind": "killed", "value": 2, "text": "two", "claimant": "Azerbaijan MoD"},
                {"kind": "wounded", "value": 5, "text": "5"},
            ],
        }
    ]
    out = claims(versions)
    assert out[0]["claimant"] == "Azerbaijan MoD" and out[0]["claimant_stated"]
    assert out[1]["claimant"] == "APA" and not out[1]["claimant_stated"]
    assert out[0]["side"] == "azerbaijani"
