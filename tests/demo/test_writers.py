"""Every format write_corpus produces parses with the usual tools and stays labelled."""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import html as lxml_html

from services.demo import cli
from services.demo.writers import (
    FORMATS,
    html_pages,
    parse_formats,
    read_manifest,
    write_corpus,
)

COUNT = 150
JSONL_FIELDS = {
    "url",
    "title",
    "text",
    "html",
    "published",
    "source",
    "language",
    "authors",
    "categories",
}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, COUNT, seed=21)
    return out


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", 40, seed=4)
    write_corpus(tmp_path / "b", 40, seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_html_pages_parse_and_carry_chrome_and_the_generated_label(corpus_dir: Path) -> None:
    pages = sorted((corpus_dir / "html").rglob("*.html"))
    assert len(pages) == COUNT
    for page in pages:
        tree = lxml_html.fromstring(page.read_bytes())
        assert tree.xpath("//h1")
        assert tree.xpath('//meta[@name="cwatch:generated"]/@content') == ["true"]
        text = tree.text_content()
        assert "[generated demo]" in text
        assert tree.xpath('//*[contains(@class, "cookie")]')
        assert tree.xpath('//*[contains(@class, "related-posts")]//li')
        assert tree.xpath('//*[contains(@class, "ad-slot")]')
        assert tree.xpath("//nav//a") and tree.xpath("//footer")


def test_txt_files_start_with_the_headline(corpus_dir: Path) -> None:
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    titles = {a["article_id"]: a["title"] for a in manifest["articles"]}
    files = sorted((corpus_dir / "txt").rglob("*.txt"))
    assert len(files) == COUNT
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        first = next(line for line in lines if line.strip())
        assert first == titles[path.stem]
        assert "[generated demo]" in lines[-1]


def test_jsonl_lines_use_only_the_fields_the_ingestor_reads(corpus_dir: Path) -> None:
    lines = (corpus_dir / "jsonl" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == COUNT
    with_html = 0
    for line in lines:
        record = json.loads(line)
        assert set(record) <= JSONL_FIELDS
        assert record["url"].startswith("https://") and record["title"]
        assert bool(record.get("text")) != bool(record.get("html"))
        with_html += "html" in record
        assert "generated demo" in record["categories"]
        assert "[generated demo]" in (record.get("text") or record.get("html"))
        assert record["source"]["kind"] == "demo" and record["source"]["country"]
    assert 0 < with_html < COUNT


def test_feeds_parse_with_feedparser_with_full_content(corpus_dir: Path) -> None:
    feeds = sorted((corpus_dir / "feeds").iterdir())
    assert {p.suffix for p in feeds} == {".xml", ".atom"}
    entries = 0
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.feed.title
        for entry in parsed.entries:
            entries += 1
            assert entry.link.startswith("https://") and entry.title
            assert entry.get("published_parsed")
            assert "[generated demo]" in entry.content[0].value
            assert "generated demo" in [t.term for t in entry.tags]
    assert entries == COUNT


def test_manifest_holds_ground_truth_and_says_generated(corpus_dir: Path) -> None:
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["generated"] is True
    assert len(manifest["articles"]) == COUNT
    assert manifest["summary"]["articles"] == COUNT
    assert "generated" in (corpus_dir / "README.md").read_text(encoding="utf-8")
    by_url = read_manifest(corpus_dir)
    assert len(by_url) == COUNT and all(t["url"] == url for url, t in by_url.items())


def test_only_the_requested_formats_are_written(tmp_path: Path) -> None:
    summary = write_corpus(tmp_path, 20, seed=1, formats=("txt",))
    assert dict(summary.files) == {"txt": 20}
    assert not (tmp_path / "html").exists() and not (tmp_path / "feeds").exists()


def test_parse_formats_accepts_csv_and_rejects_unknown() -> None:
    assert parse_formats("html, rss") == ("html", "rss")
    assert parse_formats(list(FORMATS)) == FORMATS
    with pytest.raises(ValueError):
        parse_formats("html,pdf")
    with pytest.raises(ValueError):
        parse_formats("")


def _cwatch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cwatch")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_generate_prints_progress_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "generate", "--out", str(out), "--count", "30", "--formats", "txt,jsonl"]
    assert _cwatch(argv) == 0
    captured = capsys.readouterr()
    assert "30/30 articles" in captured.err
    assert "wrote 30 articles" in captured.out and "generated demo" in captured.out
    assert len(list((out / "txt").rglob("*.txt"))) == 30


def test_cli_generate_refuses_a_non_empty_folder_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    argv = ["demo", "generate", "--out", str(tmp_path), "--count", "5"]
    assert _cwatch(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert _cwatch([*argv, "--force", "--formats", "jsonl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 5


def test_cli_generate_rejects_unknown_formats(tmp_path: Path) -> None:
    argv = ["demo", "generate", "--out", str(tmp_path / "x"), "--formats", "pdf"]
    assert _cwatch(argv) == 2


def test_some_pages_hide_chrome_inside_the_article_body(corpus_dir: Path) -> None:
    pages = [p.read_text(encoding="utf-8") for p in sorted((corpus_dir / "html").rglob("*.html"))]
    assert any('class="read-also"' in page for page in pages)
    assert any("<figcaption>" in page for page in pages)
    assert any('class="tags"' in page for page in pages)


def test_html_pages_yields_urls_and_pages_in_memory() -> None:
    pages = list(html_pages(12, seed=4))
    assert len(pages) == 12 and len({url for url, _ in pages}) == 12
    assert all(
        page.startswith("<!DOCTYPE html>") and "[generated demo]" in page for _, page in pages
    )


def test_every_written_file_reads_as_articles_through_the_ingestor(corpus_dir: Path) -> None:
    from schemas.raw import RawArticle
    from services.ingestor.adapters import files

    articles, failures = 0, []
    for path in files.iter_files(corpus_dir):
        for result in files.read_file(path):
            if isinstance(result, RawArticle):
                articles += 1
            else:
                failures.append(result)
    assert not failures
    assert articles == 4 * COUNT  # html + txt + jsonl + feed entries


def test_latest_moves_the_corpus_in_time_without_changing_the_stories(tmp_path: Path) -> None:
    latest = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    write_corpus(tmp_path / "fixed", 60, seed=6, formats=("jsonl",))
    write_corpus(tmp_path / "recent", 60, seed=6, formats=("jsonl",), latest=latest)

    def records(name: str) -> list[dict[str, Any]]:
        text = (tmp_path / name / "jsonl" / "corpus.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    fixed, recent = records("fixed"), records("recent")
    newest = max(datetime.fromisoformat(r["published"]) for r in recent)
    assert newest == latest
    assert [r["source"] for r in fixed] == [r["source"] for r in recent]
    shifts = {
        datetime.fromisoformat(b["published"]) - datetime.fromisoformat(a["published"])
        for a, b in zip(fixed, recent, strict=True)
    }
    assert len(shifts) == 1


def test_parse_latest_accepts_now_and_iso_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert cli.parse_latest("now", now=now) == now
    assert cli.parse_latest("2026-05-04") == datetime(2026, 5, 4, tzinfo=UTC)
    assert cli.parse_latest("2026-05-04T10:00+04:00").utcoffset() == timedelta(hours=4)
    with pytest.raises(ValueError):
        cli.parse_latest("yesterday")
