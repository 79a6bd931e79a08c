from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.cli import main

from .conftest import FIXTURES


def test_cwatch_extract_prints_report_json_for_a_local_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["extract", str(FIXTURES / "ru_ceasefire.txt"), "--json", "--brief"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["language"] == "ru"
    assert "folded_text" not in report
    assert any(e["id"] == "person:nikol-pashinyan" for e in report["entities"])


def test_cwatch_extract_with_a_user_gazetteer_folder_finds_the_new_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "gaz"
    extra.mkdir()
    (extra / "local.yaml").write_text(
        "- id: person:test-commander\n  name: Test Commander\n  weight: 0.5\n"
        "  aliases: [Komandir Testov, Командир Тестов]\n",
        encoding="utf-8",
    )
    text = tmp_path / "note.txt"
    text.write_text("Headline\n\nКомандир Тестов прибыл в Ереван.", encoding="utf-8")
    assert main(["extract", str(text), "--json", "--gazetteer", str(extra)]) == 0
    ids = {e["id"] for e in json.loads(capsys.readouterr().out)["entities"]}
    assert {"person:test-commander", "place:yerevan"} <= ids


def test_cwatch_extract_keeps_dedup_state_between_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    first = tmp_path / "a.txt"
    shutil.copy(FIXTURES / "en_clash.txt", first)
    second = tmp_path / "b.txt"
    second.write_text(first.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert main(["extract", str(first), "--json", "--state", str(state)]) == 0
    original = json.loads(capsys.readouterr().out)
    assert main(["extract", str(second), "--json", "--state", str(state)]) == 0
    copy = json.loads(capsys.readouterr().out)
    assert copy["duplicate_of"] == original["report_id"]


def test_cwatch_extract_human_output_lists_entities_and_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["extract", str(FIXTURES / "en_chrome.html")]) == 0
    out = capsys.readouterr().out
    assert "person:ararat-mirzoyan" in out and "event   peace_talks" in out


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1251", "Переговоры в Москве продолжились во вторник. Стороны обсудили границу."),
        ("cp1252", "Les négociations à Genève ont repris mardi. Les délégués étaient prêts."),
    ],
)
def test_cwatch_extract_decodes_a_non_utf8_page_like_the_ingestor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, text: str
) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(f"Заголовок\n\n{text}\n".encode(encoding, "replace"))
    assert main(["extract", str(page), "--json", "--brief"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert text in report["body"] and "\ufffd" not in report["body"]


def test_cwatch_extract_decodes_the_declared_charset_of_an_html_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "Die Verhandlungen in Zürich wurden am Dienstag fortgesetzt, sagte die Sprecherin."
    html = (
        '<html><head><meta charset="iso-8859-1"><title>Gespräche</title></head>'
        f"<body><article><p>{body}</p></article></body></html>"
    )
    page = tmp_path / "page.html"
    page.write_bytes(html.encode("latin-1"))
    assert main(["extract", str(page), "--json", "--brief"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert body in report["body"] and report["headline"] == "Gespräche"
