"""The README's reference tables name every setting and every metric the code declares."""

from __future__ import annotations

from pathlib import Path

from devtools import reference
from schemas.topics import topic_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_lists_every_prometheus_metric() -> None:
    missing = [name for _, name, _, _ in reference.metrics() if f"`{name}`" not in README]
    assert not missing, f"add to README (python -m devtools.reference): {missing}"


def test_readme_lists_every_setting() -> None:
    missing = [env for _, env, _, _ in reference.settings() if f"`{env}`" not in README]
    assert not missing, f"add to README (python -m devtools.reference): {missing}"


def test_readme_topic_table_is_the_one_declared_in_schemas_topics() -> None:
    assert topic_table() in README, "paste python -m devtools.reference's topic table"
