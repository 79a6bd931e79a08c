"""score_reports: extraction quality against a generated corpus's ground truth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from devtools.realistic import realistic_reports
from schemas.report import EntityMention, EntityType, EventLabel, Figure, FigureKind, Report
from services.demo.score import score_reports
from services.demo.writers import read_manifest, write_corpus

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def test_reports_built_from_the_truth_score_perfectly_on_entities_and_events(
    tmp_path: Path,
) -> None:
    write_corpus(tmp_path, 80, seed=12, formats=("txt",))
    truth = read_manifest(tmp_path)
    reports = list(realistic_reports(80, seed=12))
    score = score_reports(truth, reports).as_dict()
    assert score["reports"] == 80
    assert score["language_accuracy"] == 1.0
    assert score["relevance_accuracy"] == 1.0
    assert score["event_top1_accuracy"] == 1.0
    assert score["entity_recall"] >= 0.97  # a trimmed paragraph may drop one
    assert score["figure_recall"] == 1.0


def test_missing_and_wrong_reports_lower_the_scores() -> None:
    truth = {
        "https://a.example/1": {
            "language": "en",
            "relevant": True,
            "entity_ids": ["person:nikol-pashinyan", "place:shusha"],
            "event_type": "armed_clash",
            "figures": [{"kind": "wounded", "value": 3}],
            "near_duplicate_of": None,
        },
        "https://a.example/2": {
            "language": "ru",
            "relevant": True,
            "entity_ids": ["org:csto"],
            "event_type": "alliance",
            "figures": [],
            "near_duplicate_of": "x",
        },
    }
    report = Report(
        report_id="report-0001",
        article_id="article-0001",
        url="https://a.example/1",
        source={"name": "A"},
        ingested_at=NOW,
        extracted_at=NOW,
        language="en",
        relevant=True,
        entities=[
            EntityMention(id="place:shusha", name="Shusha", type=EntityType.PLACE),
        ],
        events=[EventLabel(type="shelling_strike", confidence=0.9, evidence="x")],
        figures=[Figure(kind=FigureKind.WOUNDED, value=3, text="three", evidence="x")],
        content_hash="h",
        story_id="s",
    )
    score = score_reports(truth, [report])
    assert score.as_dict() == {
        "articles": 2,
        "reports": 1,
        "language_accuracy": 0.5,
        "relevance_accuracy": 0.5,
        "entity_recall": round(1 / 3, 4),
        "event_top1_accuracy": 0.0,
        "figure_recall": 1.0,
        "near_duplicate_recall": 0.0,
    }
    assert dict(score.missed_entities) == {"person:nikol-pashinyan": 1, "org:csto": 1}
