"""Which side of the conflict a source speaks for: the story page's columns and the email digest's (pure, so the alerts stage and the API share it)."""

from __future__ import annotations

from typing import Any

SIDES = ("armenian", "azerbaijani", "russian", "turkish", "international")
SIDE_LABELS = {
    "armenian": "Armenian",
    "azerbaijani": "Azerbaijani",
    "russian": "Russian",
    "turkish": "Turkish",
    "international": "International",
}
_BY_COUNTRY = {"AM": "armenian", "AZ": "azerbaijani", "RU": "russian", "TR": "turkish"}


def side_of(source: dict[str, Any]) -> str:
    """By the outlet's country; outlets elsewhere (wires, NGOs, foreign media) are international."""
    return _BY_COUNTRY.get(str(source.get("country") or "").upper(), "international")


def group_by_side(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns in a fixed order, each with its versions (oldest first, as given)."""
    columns: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for version in versions:
        columns[side_of(version.get("source") or {})].append(version)
    return [{"side": side, "label": SIDE_LABELS[side], "versions": columns[side]} for side in SIDES]


def claims(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every casualty/displacement figure of the story with who made it and where it appeared."""
    out = []
    for version in versions:
        source = version.get("source") or {}
        for figure in version.get("figures") or []:
            out.append(
                {
                    "kind": figure.get("kind"),
                    "value": figure.get("value"),
                    "text": figure.get("text"),
                    "approximate": figure.get("approximate", False),
                    "subject": figure.get("subject"),
                    "claimant": figure.get("claimant") or source.get("name"),
                    "claimant_stated": bool(figure.get("claimant")),
                    "report_id": version.get("report_id"),
                    "source": source.get("name"),
                    "side": side_of(source),
                }
            )
    return out
