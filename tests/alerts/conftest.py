"""Local fixtures: a report index in the test namespace, filled through the indexer's own code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from schemas.report import Report
from schemas.topics import index_alias
from services.indexer.documents import index_for, to_document
from services.indexer.mapping import index_template, template_name


def put_reports(es, alias: str, reports: Sequence[Report]) -> None:  # type: ignore[no-untyped-def]
    ops = []
    for report in reports:
        ops.append({"index": {"_index": index_for(report, alias), "_id": report.report_id}})
        ops.append(to_document(report, datetime.now(UTC)))
    resp = es.bulk(operations=ops, refresh=True)
    assert not resp["errors"], resp["items"][:2]


@pytest.fixture
def report_alias(es_client, namespace: str) -> str:  # type: ignore[no-untyped-def]
    alias = index_alias(namespace)
    es_client.indices.put_index_template(name=template_name(alias), **index_template(alias))
    return alias


@pytest.fixture
def index_reports(es_client, report_alias: str) -> Callable[[Sequence[Report]], None]:  # type: ignore[no-untyped-def]
    return lambda reports: put_reports(es_client, report_alias, reports)
