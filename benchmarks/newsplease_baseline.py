"""news-please as a second baseline, where it installs.

news-please pins its own versions of lxml, newspaper4k and more, so it lives in a virtual
environment of its own (`.venv-newsplease`, made on first use from PyPI, not committed) and runs
as a subprocess over the same pages. When it cannot be installed, the benchmark says why and
goes on without it."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-newsplease"
PACKAGE = "news-please==1.6.16"
WORKER = Path(__file__).resolve().parent / "newsplease_worker.py"


@dataclass
class Extracted:
    texts: list[str]
    pages_per_s: float  # median over rounds
    failed: int


def _python() -> Path | None:
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"  news-please: installing {PACKAGE} into {VENV.name} (first run only)", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", PACKAGE],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(
            f"  news-please: does not install here, skipped: {exc} {detail[-300:]!r}",
            file=sys.stderr,
        )
        shutil.rmtree(VENV, ignore_errors=True)
        return None
    return python


def extract(pages: list[str], rounds: int = 1) -> Extracted | None:
    """news-please's main text of each page; None when news-please is not available."""
    python = _python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory(prefix="cwatch-newsplease-") as work:
        source, target = Path(work) / "pages.json", Path(work) / "out.json"
        source.write_text(json.dumps(pages), encoding="utf-8")
        done = subprocess.run(
            # -I: the worker's folder (this one) must not shadow the `newsplease` package.
            [str(python), "-I", str(WORKER), str(source), str(target), str(rounds)],
            capture_output=True,
            timeout=3600,
        )
        if done.returncode != 0:
            print(f"  news-please: failed, skipped: {done.stderr[-500:]!r}", file=sys.stderr)
            return None
        out = json.loads(target.read_text(encoding="utf-8"))
    rate = statistics.median(len(pages) / s for s in out["seconds"] if s > 0)
    return Extracted(texts=out["texts"], pages_per_s=rate, failed=int(out["failed"]))
