from __future__ import annotations

import json
from typing import Any

import pytest

from services.search.cli import format_table

RESULT = {
    "total": 12,
    "total_relation": "eq",
    "next_cursor": "abc",
    "hits": [
        {
            "date": "2026-11-20T11:00:00+00:00",
            "language": "ru",
            "source": {"name": "ТАСС"},
            "headline": "Пашинян заявил о соблюдении перемирия",
            "versions": 3,
        },
        {
            "date": "2026-11-20T10:00:00+00:00",
            "language": "en",
            "source": {"name": "A very long outlet name that goes on and on"},
            "headline": "Ceasefire " * 30,
        },
    ],
}


def test_table_has_one_line_per_hit_with_versions_and_a_paging_hint() -> None:
    lines = format_table(RESULT, width=100).splitlines()
    assert lines[0].split() == ["DATE", "(UTC)", "LANG", "SOURCE", "HEADLINE"]
    assert "2026-11-20 11:00" in lines[1] and "ТАСС" in lines[1] and "[3 versions]" in lines[1]
    assert all(len(line) <= 100 for line in lines[1:3])
    assert lines[2].rstrip().endswith("…")
    assert lines[-1] == "2 shown of 12 reports; next page: --cursor abc"


@pytest.mark.integration
def test_search_command_prints_json_and_a_table(
    es_client: Any, namespace: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from services.cli import main
    from services.indexer.settings import IndexerSettings
    from tests.search.conftest import corpus, index_reports

    index_reports(es_client, IndexerSettings(namespace=namespace), corpus())
    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    assert main(["search", "ceasefire", "Lachin", "--lang", "en", "--since", "7d", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [h["report_id"] for h in out["hits"]] == ["r-en-ceasefire"]
    assert main(["search", "--entity", "person:nikol-pashinyan", "--collapse"]) == 0
    table = capsys.readouterr().out
    assert "[2 versions]" in table and "Փաշինյանը" in table
    assert main(["search", '"unclosed']) == 2
    assert "not closed" in capsys.readouterr().err
