"""Indexer: report topic -> Elasticsearch (idempotent by report id) -> indexed topic."""
