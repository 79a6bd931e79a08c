"""Export benchmark: `cwatch export` of N reports, streamed over a point in time.

N report-shaped documents (places with coordinates, organisations, events with sub-types,
casualty figures; no body) are bulk-indexed into a namespace's report index; then the CLI is run
as a subprocess for every match as CSV, and for up to a tenth of them in each other format.
`export_reports_per_s` is N over the CSV export's wall time (process start included);
`export_rss_mb` is that process's peak resident memory (VmHWM, read until it exits): flat
whatever N, since one page of 1,000 reports is held at a time. N is 1,000,000 in full mode and
20,000 with --quick. Everything is deleted afterwards.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402

from services.indexer.mapping import index_name  # noqa: E402
from services.indexer.migrate import put_template  # noqa: E402
from services.indexer.settings import IndexerSettings  # noqa: E402

PLACES = [
    ("place:lachin", "Lachin", "AZ", 39.64, 46.55),
    ("place:shusha", "Shusha", "AZ", 39.76, 46.75),
    ("place:tavush", "Tavush", "AM", 40.9, 45.1),
    ("place:goris", "Goris", "AM", 39.51, 46.34),
    ("place:nagorno-karabakh", "Nagorno-Karabakh", "AZ", 39.82, 46.75),
]
ORGS = [
    ("org:armenia-mod", "Ministry of Defence of Armenia"),
    ("org:azerbaijan-mod", "Ministry of Defence of Azerbaijan"),
    ("org:osce", "OSCE"),
]
EVENTS = [
    ("shelling_strike", "drone_strike"),
    ("armed_clash", None),
    ("ceasefire", None),
    ("peace_talks", "negotiations"),
    ("protest", "rally"),
]
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def document(n: int, rng: random.Random) -> dict[str, Any]:
    places = rng.sample(PLACES, 2)
    event, subtype = EVENTS[n % len(EVENTS)]
    org = ORGS[n % len(ORGS)]
    return {
        "report_id": f"r-{n:08d}",
        "story_id": f"s-{n // 3:08d}",
        "date": (BASE - timedelta(seconds=n * 3)).isoformat(),
        "published": (BASE - timedelta(seconds=n * 3)).isoformat(),
        "headline": f"Report {n}: {event.replace('_', ' ')} near {places[0][1]}",
        "url": f"https://example.org/news/{n}",
        "language": "en",
        "source": {"name": "Bench Wire", "country": "GB", "affiliation": "wire"},
        "entities": [
            {"id": i, "name": nm, "type": "place", "country": c, "lat": la, "lon": lo, "count": 1}
            for i, nm, c, la, lo in places
        ]
        + [{"id": org[0], "name": org[1], "type": "organization", "count": 2}],
        "events": [
            {
                "type": event,
                "subtype": subtype,
                "primary": True,
                "confidence": 0.9,
                "evidence": f"Officials reported {event.replace('_', ' ')} near {places[0][1]}.",
            }
        ],
        "event_types": [event],
        "primary_event": event,
        "figures": [{"kind": "killed", "value": n % 7, "subject": "soldiers", "text": str(n % 7)}]
        if n % 4 == 0
        else [],
        "figure_kinds": ["killed"] if n % 4 == 0 else [],
        "relevance": 0.9,
        "relevant": True,
    }


def index_documents(es: Elasticsearch, settings: IndexerSettings, count: int) -> float:
    put_template(es, settings)
    index = index_name(settings.index_alias, BASE)
    rng = random.Random(16)
    started = time.monotonic()
    for start in range(0, count, 5000):
        ops: list[dict[str, Any]] = []
        for n in range(start, min(start + 5000, count)):
            ops.append({"index": {"_index": index, "_id": f"r-{n:08d}"}})
            ops.append(document(n, rng))
        response = es.options(request_timeout=300).bulk(operations=ops)
        if response["errors"]:
            raise RuntimeError(f"bulk failed: {response['items'][:2]}")
    es.indices.refresh(index=index)
    es.options(request_timeout=600).indices.forcemerge(index=index, max_num_segments=1)
    return time.monotonic() - started


def export_once(namespace: str, fmt: str, out: Path, max_rows: int | None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `cwatch export` subprocess."""
    env = {**os.environ, "CWATCH_NAMESPACE": namespace, "CWATCH_LOG_JSON": "false"}
    cmd = [sys.executable, "-m", "services.cli", "export", "--format", fmt, "--out", str(out)]
    cmd += ["--time-budget-s", "0", "--quiet"]
    if max_rows:
        cmd += ["--max-rows", str(max_rows)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, high_water_kb(proc.pid))
        time.sleep(0.05)
    took = time.monotonic() - started
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"cwatch export --format {fmt} exited {proc.returncode}")
    return took, peak_kb / 1024


def high_water_kb(pid: int) -> int:
    """The process's peak resident set so far (VmHWM). Not wait4's ru_maxrss: after fork and
    exec that starts at the parent's resident set, this benchmark's own."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run(quick: bool = False, docs: int | None = None) -> dict[str, float]:
    count = docs or (20_000 if quick else 1_000_000)
    namespace = f"benchexp{uuid.uuid4().hex[:6]}"
    settings = IndexerSettings(namespace=namespace, log_json=False)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=60)
    figures: dict[str, float] = {"export_reports": float(count)}
    try:
        figures["export_index_s"] = round(index_documents(es, settings, count), 1)
        with tempfile.TemporaryDirectory() as tmp:
            took, rss = export_once(namespace, "csv", Path(tmp) / "all.csv", None)
            lines = sum(1 for _ in (Path(tmp) / "all.csv").open(encoding="utf-8")) - 1
            if lines != count:
                raise RuntimeError(f"csv export wrote {lines} rows of {count}")
            figures["export_reports_per_s"] = round(count / took, 1)
            figures["export_rss_mb"] = round(rss, 1)
            part = max(1000, count // 10)
            for fmt in ("jsonl", "geojson", "acled"):
                took, rss = export_once(namespace, fmt, Path(tmp) / f"part.{fmt}", part)
                figures[f"export_{fmt}_reports_per_s"] = round(part / took, 1)
                figures[f"export_{fmt}_rss_mb"] = round(rss, 1)
    finally:
        names = [
            n
            for n in es.options(ignore_status=404).indices.get(
                index=f"{namespace}-*", allow_no_indices=True
            )
            if n.startswith(namespace)
        ]
        if names:
            es.indices.delete(index=",".join(names))
        es.options(ignore_status=404).indices.delete_index_template(name=f"{namespace}-*")
        es.close()
    return figures


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.docs), indent=2))
