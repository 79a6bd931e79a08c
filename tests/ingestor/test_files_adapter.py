from __future__ import annotations

from pathlib import Path

from schemas.common import SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.base import Failure
from services.ingestor.adapters.files import iter_files, read_file


def test_seed_text_files_use_first_non_empty_line_as_headline(seeds_dir: Path) -> None:
    results = [r for p in iter_files(seeds_dir) for r in read_file(p)]
    assert len(results) == 5 and all(isinstance(r, RawArticle) for r in results)
    titles = {r.title for r in results if isinstance(r, RawArticle)}
    assert "Azerbaijan proposes humanitarian truce to Armenia" in titles
    assert 'İçeriğe geçmek için "Enter"a basın' in titles
    first = next(
        r
        for r in results
        if isinstance(r, RawArticle) and r.title and r.title.startswith("Azerbaijan proposes")
    )
    assert first.text and first.text.startswith("Baku has")
    assert first.source.kind == SourceKind.FILE and first.url is None


def test_text_article_id_is_stable_across_reads(seeds_dir: Path) -> None:
    path = next(iter_files(seeds_dir))
    a, b = read_file(path)[0], read_file(path)[0]
    assert isinstance(a, RawArticle) and isinstance(b, RawArticle)
    assert a.article_id == b.article_id


def test_jsonl_reads_good_lines_and_reports_bad_lines_with_line_numbers(fixtures: Path) -> None:
    results = read_file(fixtures / "articles.jsonl")
    articles = [r for r in results if isinstance(r, RawArticle)]
    failures = [r for r in results if isinstance(r, Failure)]
    assert [a.title for a in articles] == ["Baku hosts talks", "Yerevan protest", "Third"]
    assert articles[0].source.name == "Example AZ" and articles[0].source.country == "AZ"
    assert articles[0].source.affiliation.value == "pro-government"
    assert articles[1].source.name == "Example AM" and articles[1].html
    assert sorted((f.source.rsplit(":", 1)[1], f.error_type) for f in failures) == [
        ("3", "invalid_json"),
        ("4", "invalid_record"),
    ]
    assert failures[0].payload == b"{not json"


def test_binary_file_is_a_failure_not_a_crash(fixtures: Path) -> None:
    [result] = read_file(fixtures / "binary.html")
    assert isinstance(result, Failure) and result.error_type == "binary_content"
    assert result.source.endswith("binary.html")


def test_rss_files_in_a_folder_become_articles(fixtures: Path) -> None:
    [*articles] = read_file(fixtures / "cp1251_undeclared.xml")
    assert [a.title for a in articles if isinstance(a, RawArticle)] == [
        "Пашинян и Алиев встретились в Брюсселе",
        "Ереван и Баку обменялись пленными",
    ]


def test_unsafe_feed_file_fails_with_the_path(fixtures: Path) -> None:
    [result] = read_file(fixtures / "xml_bomb.xml")
    assert isinstance(result, Failure) and result.error_type == "unsafe_xml"
    assert result.source.endswith("xml_bomb.xml")


def test_folder_walk_skips_hidden_and_unsupported_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Headline\nbody")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.HTML").write_text("<title>t</title>")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)] == [
        "a.txt",
        "sub/b.HTML",
    ]


def test_empty_text_file_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n\n  \n")
    [result] = read_file(tmp_path / "empty.txt")
    assert isinstance(result, Failure) and result.error_type == "empty_item"


def test_parser_process_gives_the_same_results_as_in_process(fixtures: Path) -> None:
    from services.ingestor.parallel import prepare_file, prepare_files

    paths = sorted(iter_files(fixtures))
    jobs = [(str(p), None, 8_000_000) for p in paths]
    in_process = [prepare_file(job) for job in jobs]
    in_parser = list(prepare_files(paths, None, 8_000_000, workers=1))
    ids = [
        [getattr(r, "article_id", None) or getattr(r, "error_type", "") for r in rs]
        for rs in in_process
    ]
    assert ids == [
        [getattr(r, "article_id", None) or getattr(r, "error_type", "") for r in rs]
        for rs in in_parser
    ]
    assert any(rs for rs in in_parser)
