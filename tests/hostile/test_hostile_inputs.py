"""Every entry point, driven with every item of the hostile corpus, finishes within its time and
memory bounds and either produces bounded output or handles its documented error.

One test per (entry point, item); each runs in a forked child with a hard address-space limit
and a deadline (tests/fuzz/budget.py), so a regression fails its own test and cannot wedge or
swap the run. No case is expected to fail: the bugs this corpus found (issue 13's rows, and
dates past the calendar's edge, deep JSON, out-of-range character references in feeds, the
memory of a 50 MB text) are fixed, and a new one is fixed, not marked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.common import SourceInfo
from services.common.netguard import check_url_text
from services.ingestor.adapters.base import Failure
from services.ingestor.adapters.feed import parse_feed
from services.ingestor.adapters.files import read_file
from services.ingestor.adapters.page import parse_page
from services.ingestor.adapters.sitemap import parse_sitemap
from tests.fuzz.budget import MB, run_isolated
from tests.hostile import entry_points
from tests.hostile.corpus import BUILDERS, PUBLIC_HOST, item
from tests.hostile.entry_points import ENTRY_POINTS, warm_up, work_dir


def _cases() -> list[Any]:
    return [
        pytest.param(entry, name, id=f"{entry}-{name}")
        for entry in ENTRY_POINTS
        for name in BUILDERS
    ]


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    warm_up(tmp_path_factory.mktemp("warm"))


@pytest.fixture(autouse=True)
def _work(tmp_path: Path) -> Iterator[None]:
    """The children's folders live under this test's tmp_path, made and removed here in the
    parent: a child killed by its limit used to leave its own mkdtemp folder in /tmp."""
    with work_dir(tmp_path / "work"):
        yield


def bounds(size: int) -> tuple[float, float]:
    """(CPU seconds, MB) one input may cost: generous, and linear in its size."""
    return 2.0 + 0.5 * size / MB, 200.0 + 10.0 * size / MB


@pytest.mark.parametrize(("entry", "name"), _cases())
def test_entry_point_bounds_hostile_input(entry: str, name: str) -> None:
    data = item(name)
    seconds, megabytes = bounds(len(data))
    outcome = run_isolated(ENTRY_POINTS[entry], data, cpu_limit_s=seconds + 0.5)
    assert outcome.killed is None, outcome.describe()
    assert outcome.error is None, outcome.describe()
    assert outcome.cpu_s <= seconds, f"took {outcome.cpu_s:.1f} s CPU, bound {seconds:.1f} s"
    assert outcome.peak_mb <= megabytes, f"peak +{outcome.peak_mb:.0f} MB, bound {megabytes:.0f}"
    assert outcome.result <= 20 * len(data) + 2 * MB, f"output {outcome.result} for {len(data)}"


def test_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 60 MB file (sparse: no disk, no memory) fails with too_large, without being read."""
    path = tmp_path / "huge.html"
    with path.open("wb") as f:
        f.truncate(60 * MB)
    outcome = run_isolated(_file_failure, path, cpu_limit_s=10)
    assert outcome.error is None, outcome.describe()
    assert outcome.result == "too_large"
    assert outcome.peak_mb < 50, outcome.describe()


def _file_failure(path: Path) -> str:
    (result,) = read_file(path)
    assert isinstance(result, Failure)
    return result.error_type


def _urls_of(entry: str, data: bytes) -> list[str]:
    """Every URL the ingestor would keep or fetch from what a parser returns."""
    if entry == "parse_sitemap":
        parsed = parse_sitemap(data)
        return parsed.children + [e.url for e in parsed.entries]
    if entry == "parse_feed":
        feed = parse_feed(data, feed_url=f"http://{PUBLIC_HOST}/feed")
        links = [e.link or "" for e in feed.entries]
        return links + [
            u or "" for e in feed.entries for u in (e.article.url, e.article.canonical_url)
        ]
    article = parse_page(data, source=SourceInfo(name="h"), url=f"http://{PUBLIC_HOST}/p")
    return [article.url or "", article.canonical_url or ""]


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("parse_feed", "control_chars_feed_links"),
        ("parse_sitemap", "control_chars_sitemap_locs"),
        ("parse_page", "control_chars_page"),
    ],
)
def test_parsed_urls_carry_no_control_characters(entry: str, name: str) -> None:
    for url in _urls_of(entry, item(name)):
        check_url_text(url)


def _stuck_in_a_folder() -> None:
    folder = entry_points._folder()
    (folder / "item.html").write_bytes(b"<p>")
    while True:  # until the parent stops it, as it stops an input over its CPU limit
        pass


def test_a_child_killed_by_its_limit_leaves_no_folder_behind(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with work_dir(work):
        outcome = run_isolated(_stuck_in_a_folder, cpu_limit_s=0.2)
        assert outcome.killed is not None, outcome.describe()
        assert list(work.iterdir())  # the child's folder, which it could not remove
    assert not work.exists()
