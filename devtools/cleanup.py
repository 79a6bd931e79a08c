"""Removing what a test or benchmark namespace left in Elasticsearch (tests and benchmarks)."""

from __future__ import annotations

from typing import Any


def drop_namespace_indices(client: Any, ns: str) -> None:
    """Delete the namespace's indices and index templates, by concrete names: a cluster may
    refuse wildcard deletes (destructive_requires_name)."""
    quiet = client.options(ignore_status=404)
    names = list(quiet.indices.get(index=f"{ns}-*", expand_wildcards="all", allow_no_indices=True))
    names = [n for n in names if n.startswith(f"{ns}-")]
    for start in range(0, len(names), 50):
        quiet.indices.delete(index=",".join(names[start : start + 50]))
    templates = quiet.indices.get_index_template(name=f"{ns}-*").get("index_templates", [])
    for template in templates:
        quiet.indices.delete_index_template(name=template["name"])
