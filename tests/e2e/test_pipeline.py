"""End to end: real documents pushed through ingestor -> extractor -> indexer -> search API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import wait_for

pytestmark = pytest.mark.e2e


def ingest(paths: list[Path], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "ingest", *map(str, paths), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def search(deployment, **params: str) -> dict:  # type: ignore[no-untyped-def]
    with deployment.api() as client:
        response = client.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def total(result: dict) -> int:
    hits = result.get("total")
    return int(hits["value"] if isinstance(hits, dict) else hits or 0)


def test_real_seed_reports_become_searchable_across_scripts(
    deployment, shared_data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    seeds = sorted((shared_data / "seeds").glob("*.txt"))
    ingest(seeds, deployment.env)

    # The Indonesian digest becomes one report per item (12 items + 4 articles). Compare spellings
    # only once every report is in, or a report indexed between two searches skews the counts.
    everything = wait_for(
        lambda: total(search(deployment, q="")) >= len(seeds) + 11 or None,
        timeout_s=120,
        what="all seed reports (12 digest items + 4 articles)",
    )
    assert everything

    # Pashinyan, spelled as the seeds spell him (incl. the misspelled "Pasinian"), is one entity.
    by_name = search(deployment, q="Pashinyan")
    assert total(by_name) >= 2
    by_cyrillic = search(deployment, q="Пашинян")
    assert total(by_cyrillic) == total(by_name)


def test_every_seed_report_carries_its_extracted_structure_and_the_ui_is_served(
    deployment, shared_data: Path
) -> None:  # type: ignore[no-untyped-def]
    seeds = sorted((shared_data / "seeds").glob("*.txt"))
    ingest(seeds, deployment.env)
    result = wait_for(
        lambda: (r := search(deployment, q="", size="50")) and total(r) >= len(seeds) + 11 and r,
        timeout_s=120,
        what="all seed reports (12 digest items + 4 articles)",
    )
    hits = result["hits"]
    headlines = " | ".join(hit["headline"] for hit in hits)
    assert (
        "Enter" not in headlines and "Categories:" not in headlines
    )  # page chrome is not a headline
    assert {hit["language"] for hit in hits} >= {"en", "id"}
    with deployment.api() as client:
        story = client.get(f"/v1/reports/{hits[0]['report_id']}")
        assert story.status_code == 200, story.text
        ui = client.get("/ui/")
        assert ui.status_code == 200 and "Content-Security-Policy" in ui.headers
        bad = client.get("/v1/search", params={"q": '"unbalanced'})
        assert bad.status_code == 400 and bad.json()
