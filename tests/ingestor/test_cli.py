from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import main


def test_ingest_without_targets_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest"]) == 2
    assert "at least one PATH or URL" in capsys.readouterr().err


def test_ingest_of_a_missing_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_ingestor_run_is_registered() -> None:
    from services.cli import build_parser

    args = build_parser().parse_args(["ingestor", "run", "--watch", "/tmp", "--port", "9999"])
    assert args.port == 9999 and args.watch == [Path("/tmp")]
