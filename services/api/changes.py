"""A report's statement history as the UI shows it: the diff against the previous version cut
into typed lines, bounded in lines and characters (a diff is up to 20,000 characters of
someone else's text; the page renders each line as text, never as HTML). Pure."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Depends, HTTPException, Request

from services.api.auth import require
from services.common.auth.roles import Role
from services.query.bodies import build_report
from services.search.service import SearchService

router = APIRouter(tags=["web"], dependencies=[Depends(require(Role.VIEWER))])

MAX_DIFF_LINES = 300
MAX_DIFF_LINE_CHARS = 500

_OPS = {"+": "add", "-": "del", "@": "hunk", " ": "same"}


def diff_lines(diff: str | None) -> tuple[list[dict[str, str]], bool]:
    """(lines, cut): each line `{"op": add|del|same|hunk, "text": ...}` without its marker;
    the `--- before` / `+++ after` header is left out. `cut` says something was left out."""
    if not diff:
        return [], False
    lines: list[dict[str, str]] = []
    cut = False
    for raw in diff.splitlines():
        if raw.startswith(("--- ", "+++ ")) and not lines:
            continue  # the file header of a unified diff
        if len(lines) >= MAX_DIFF_LINES:
            cut = True
            break
        op = _OPS.get(raw[:1], "same")
        text = raw if op == "hunk" else raw[1:]
        if len(text) > MAX_DIFF_LINE_CHARS:
            text, cut = text[: MAX_DIFF_LINE_CHARS - 1] + "…", True
        lines.append({"op": op, "text": text})
    return lines, cut


def history_view(source: dict[str, Any]) -> dict[str, Any]:
    """What the report's history panel needs from its stored document."""
    lines, cut = diff_lines(source.get("diff") if isinstance(source.get("diff"), str) else None)
    return {
        "report_id": source.get("report_id"),
        "story_id": source.get("story_id"),
        "headline": source.get("headline") or "",
        "url": source.get("url"),
        "source": source.get("source") or {},
        "version": source.get("version") or 1,
        "change": source.get("change"),
        "edited_at": source.get("edited_at"),
        "withdrawn_at": source.get("withdrawn_at"),
        "diff": lines,
        "diff_cut": cut,
    }


def _service(request: Request) -> SearchService:
    service: SearchService = request.app.state.search_service
    return service


@router.get("/ui/v1/report/{report_id}/history", summary="A report's version, diff and withdrawal")
def ui_report_history(
    service: Annotated[SearchService, Depends(_service)], report_id: str
) -> dict[str, Any]:
    try:
        raw = service.run(build_report(report_id))
    except (ApiError, TransportError):
        raise HTTPException(
            status_code=503, detail="search backend unavailable, try again"
        ) from None
    hits = raw["hits"]["hits"]
    if not hits:
        raise HTTPException(status_code=404, detail=f"no report {report_id!r}")
    return history_view(hits[0]["_source"])
