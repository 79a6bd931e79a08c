"""The export's paging over a point in time, against a stand-in for Elasticsearch's answers:
where it stops, what it says, and that a partial page is never passed off as a whole one."""

from __future__ import annotations

from typing import Any

import pytest

from services.query.params import SearchParams
from services.search.export import Export, ExportIncomplete, ExportLimits


class FakeEs:
    """Answers PIT searches over `count` reports, newest first, the way Elasticsearch does."""

    def __init__(self, count: int, broken_page: int | None = None, timed_out: bool = False):
        self.count, self.broken_page, self.timed_out = count, broken_page, timed_out
        self.pages: list[dict[str, Any]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.closed: list[str] = []

    def options(self, **_: Any) -> FakeEs:
        return self

    def open_point_in_time(self, **_: Any) -> dict[str, Any]:
        return {"id": "pit-0"}

    def close_point_in_time(self, id: str) -> None:  # noqa: A002 - the client's name
        self.closed.append(id)

    def search(self, body: dict[str, Any], **kwargs: Any) -> Any:
        self.pages.append(body)
        self.kwargs.append(kwargs)
        start = body.get("search_after", [-1])[0] + 1
        hits = [
            {"_source": {"report_id": f"r-{n}"}, "sort": [n]}
            for n in range(start, min(start + body["size"], self.count))
        ]
        failed = 1 if len(self.pages) == self.broken_page else 0
        answer = {
            "pit_id": f"pit-{len(self.pages)}",
            "timed_out": self.timed_out and failed == 1,
            "_shards": {"total": 2, "failed": failed, "failures": [{"reason": "boom"}] * failed},
            "hits": {"total": {"value": self.count}, "hits": hits},
        }
        return type("Resp", (), {"body": answer})()


def export(es: FakeEs, fmt: str = "jsonl", **limits: Any) -> Export:
    bounds = {"max_rows": 10_000, "time_budget_s": 0.0, **limits}
    return Export(es, "alias", SearchParams(), fmt, ExportLimits(**bounds))  # type: ignore[arg-type]


def test_pages_follow_each_other_and_the_newest_pit_id_and_the_pit_is_closed() -> None:
    es = FakeEs(450)
    job = export(es).open()
    lines = "".join(job.chunks()).splitlines()
    assert len(lines) == 450 and job.stopped is None
    assert [p["size"] for p in es.pages] == [200, 200, 200]
    assert [p["pit"]["id"] for p in es.pages] == ["pit-0", "pit-1", "pit-2"]
    assert [p.get("search_after") for p in es.pages] == [None, [199], [399]]
    assert all(k == {"allow_partial_search_results": False} for k in es.kwargs)
    assert es.closed == ["pit-3"]


def test_the_row_cap_asks_only_for_what_is_left_and_says_it_stopped() -> None:
    es = FakeEs(5000)
    job = export(es, max_rows=450).open()
    assert job.expected == 450
    assert len("".join(job.chunks()).splitlines()) == 450
    assert [p["size"] for p in es.pages] == [200, 200, 50]
    assert job.stopped == "max_rows" and job.summary()["complete"] is False


def test_an_export_of_exactly_the_cap_is_complete() -> None:
    job = export(FakeEs(400), max_rows=400).open()
    "".join(job.chunks())
    assert job.stopped is None and job.read == 400


@pytest.mark.parametrize("timed_out", [False, True])
def test_a_page_answered_in_part_stops_the_export_in_words(timed_out: bool) -> None:
    es = FakeEs(1000, broken_page=2, timed_out=timed_out)
    job = export(es).open()
    with pytest.raises(ExportIncomplete, match="only in part.*boom"):
        "".join(job.chunks())
    assert es.closed  # the point in time is closed all the same


def test_a_first_page_answered_in_part_fails_before_any_byte() -> None:
    es = FakeEs(1000, broken_page=1)
    with pytest.raises(ExportIncomplete):
        export(es).open()
    assert es.closed == ["pit-1"]


def test_export_slots_cap_each_user_and_the_process_and_come_back_once() -> None:
    from services.api.exports import ExportSlots

    slots = ExportSlots(size=3, per_user=2)
    first, second = slots.take("alice"), slots.take("alice")
    assert callable(first) and callable(second)
    assert "CWATCH_EXPORT_MAX_PER_USER" in str(slots.take("alice"))  # her third: refused
    bobs = slots.take("bob")
    assert callable(bobs)
    assert "CWATCH_EXPORT_MAX_CONCURRENT" in str(slots.take("carol"))  # the process is full
    first()
    first()  # twice is once: alice has one running, bob one
    assert callable(slots.take("alice"))
    assert "CWATCH_EXPORT_MAX_CONCURRENT" in str(slots.take("carol"))
