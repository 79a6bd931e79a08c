from datetime import UTC, datetime

from services.indexer.mapping import (
    MAPPING_VERSION,
    index_name,
    index_pattern,
    index_template,
    mappings,
    parse_index_name,
    template_name,
)

STOCK_ANALYZERS = {"standard", "simple", "whitespace", "keyword"}


def _walk(props: dict, prefix: str = ""):  # type: ignore[no-untyped-def]
    for name, spec in props.items():
        yield prefix + name, spec
        yield from _walk(spec.get("properties", {}), prefix + name + ".")
        for sub, sub_spec in spec.get("fields", {}).items():
            yield prefix + name + "." + sub, sub_spec


def test_index_names_are_monthly_and_versioned() -> None:
    when = datetime(2026, 3, 9, tzinfo=UTC)
    assert index_name("cwatch-reports", when) == f"cwatch-reports-v{MAPPING_VERSION}-2026.03"
    assert parse_index_name(f"t1-cwatch-reports-v{MAPPING_VERSION}-2026.03") == (
        "t1-cwatch-reports",
        MAPPING_VERSION,
        "2026.03",
    )
    assert parse_index_name("cwatch-reports") is None


def test_template_matches_only_its_version_and_joins_the_alias() -> None:
    body = index_template("ns-cwatch-reports", refresh_interval="1s")
    assert body["index_patterns"] == [index_pattern("ns-cwatch-reports")]
    assert body["template"]["aliases"] == {"ns-cwatch-reports": {}}
    assert body["template"]["settings"]["index"]["refresh_interval"] == "1s"
    assert body["template"]["settings"]["index"]["merge"]["policy"]["floor_segment"] == "16mb"
    assert template_name("ns-cwatch-reports") == f"ns-cwatch-reports-v{MAPPING_VERSION}"


def test_mapping_uses_only_stock_analyzers_and_explicit_types() -> None:
    fields = dict(_walk(mappings()["properties"]))
    for name, spec in fields.items():
        assert spec.get("analyzer", "standard") in STOCK_ANALYZERS, name
        assert spec.get("type", "object") in {
            "text",
            "keyword",
            "date",
            "geo_point",
            "nested",
            "object",
            "integer",
            "long",
            "float",
            "boolean",
        }, name
    assert fields["headline"]["type"] == fields["body"]["type"] == "text"
    assert fields["folded_text"]["type"] == "text"
    assert fields["place_points"]["type"] == "geo_point"
    assert fields["figures"]["type"] == "nested"
    for keyword in (
        "language",
        "source.name",
        "source.country",
        "source.affiliation",
        "entity_ids",
        "event_types",
        "primary_event",
        "story_id",
        "figure_kinds",
    ):
        assert fields[keyword]["type"] == "keyword", keyword
    for date in ("published", "ingested_at", "indexed_at", "date"):
        assert fields[date]["type"] == "date"


def test_unknown_fields_are_kept_but_not_indexed() -> None:
    assert mappings()["dynamic"] is False


def test_fields_searches_sort_aggregate_or_collapse_on_keep_their_doc_values() -> None:
    from services.query.bodies import FACET_FIELDS, sort_clause

    fields = dict(_walk(mappings()["properties"]))
    used = set(FACET_FIELDS.values()) | {"story_id", "story_root", "date", "place_ids"}
    used |= {name for clause in sort_clause("time") for name in clause}
    for name in used:
        assert fields[name].get("doc_values", True), name


def test_fields_only_filtered_or_returned_skip_doc_values_and_body_skips_offsets() -> None:
    """What v2 stopped writing for every document (the indexer shares two cores with ES)."""
    fields = dict(_walk(mappings()["properties"]))
    for name in (
        "url",
        "canonical_url",
        "content_hash",
        "article_id",
        "indexed_at",
        "published",
        "pushed_by",  # which token pushed a report: filtered on only
    ):
        assert fields[name]["doc_values"] is False, name
    assert "index_options" not in fields["body"]  # positions: phrases still work
    assert fields["headline"]["index_options"] == "offsets"
    assert "headline.raw" not in fields
