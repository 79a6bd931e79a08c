"""Statement history in the index: the fields are mapped, the latest change is derived, and a
new version replaces the earlier one only if it is newer (external versioning)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.indexer.bulk import Action, bulk_body
from services.indexer.documents import change_of, to_document
from services.indexer.mapping import mappings
from tests.indexer.reportgen import make_report

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_history_fields_are_mapped_and_the_diff_is_searchable_text() -> None:
    props = mappings()["properties"]
    assert props["version"]["type"] == "integer"
    assert props["edited_at"]["type"] == props["withdrawn_at"]["type"] == "date"
    assert props["diff"]["type"] == "text"
    assert props["change"]["type"] == "keyword"


def test_the_latest_change_is_derived_and_a_withdrawal_outranks_an_edit() -> None:
    report = make_report(0)
    assert change_of(report) is None and to_document(report, NOW)["change"] is None
    edited = report.model_copy(update={"version": 2, "edited_at": NOW, "diff": "-a\n+b"})
    assert change_of(edited) == "edited"
    gone = edited.model_copy(update={"version": 3, "withdrawn_at": NOW})
    doc = to_document(gone, NOW)
    assert doc["change"] == "withdrawn" and doc["version"] == 3 and doc["diff"] == "-a\n+b"


def test_a_versioned_action_is_written_with_its_version_as_external_gte() -> None:
    plain, versioned = (
        Action(doc_id="r1", index="idx", source_json="{}"),
        Action(doc_id="r1", index="idx", source_json="{}", version=3),
    )
    heads = [json.loads(line) for line in bulk_body([plain, versioned]).splitlines()[::2]]
    assert heads[0] == {"index": {"_index": "idx", "_id": "r1"}}
    assert heads[1] == {
        "index": {"_index": "idx", "_id": "r1", "version": 3, "version_type": "external_gte"}
    }
