"""`make bench`: every performance figure of the system in one run, against the real services.

Each benchmark module runs in its own process (so its memory is its own) and returns a flat
dict of numbers; they are merged into bench-results/latest.json with a PNG chart beside it.
Targets are printed next to the figures; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = (
    "ingest", "extract", "index", "alerts", "email", "e2e", "recovery", "telegram", "export",
    "stories",
)  # fmt: skip

# (key, target, "min" = figure must be at least target, "max" = at most)
TARGETS: list[tuple[str, float, str]] = [
    ("ingest_files_per_s", 2000, "min"),
    ("ingest_feed_items_per_s", 500, "min"),
    ("telegram_posts_per_s", 100, "min"),
    ("ingest_rss_mb", 300, "max"),
    ("extract_text_per_s", 500, "min"),
    ("extract_rss_mb", 1024, "max"),
    ("index_docs_per_s", 2000, "min"),
    ("searchable_p99_s", 2.0, "max"),
    ("search_p99_ms", 100, "max"),
    ("alert_p99_s", 3.0, "max"),
    ("email_alert_p99_s", 5.0, "max"),
    ("e2e_sustained_per_s", 50, "min"),
    ("e2e_searchable_p99_s", 2.0, "max"),
    ("e2e_alert_p99_s", 3.0, "max"),
    ("stack_rss_mb", 6144, "max"),
    ("recovery_extractor_s", 15.0, "max"),
    ("recovery_indexer_s", 15.0, "max"),
    ("recovery_alerts_s", 15.0, "max"),
    ("recovery_clean_restart_s", 15.0, "max"),
    # one page of reports in memory at a time, whatever the export's size
    ("export_rss_mb", 256, "max"),
    ("story_f1_1w", 0.8, "min"),
    ("story_f1_3w", 0.8, "min"),
    ("story_f1_1w_own", 0.8, "min"),
    ("story_f1_3w_own", 0.8, "min"),
    ("neardup_recall_1w", 0.9, "min"),
    ("neardup_recall_3w", 0.9, "min"),
    ("neardup_recall_1w_own", 0.9, "min"),
    ("neardup_recall_3w_own", 0.9, "min"),
    ("story_disagreement_1w_3w", 0.02, "max"),
    ("story_disagreement_1w_3w_own", 0.02, "max"),
    # the story stage's order costs a live report nothing, one worker or three
    ("story_live_p50_s_1w", 1.0, "max"),
    ("story_live_p50_s_3w", 1.0, "max"),
]


def run_module(name: str, quick: bool, out_dir: Path) -> dict[str, float]:
    script = REPO / "benchmarks" / f"bench_{name}.py"
    if not script.exists():
        print(f"  {name}: no {script.name}, skipped", file=sys.stderr)
        return {}
    result_file = out_dir / f"{name}.json"
    result_file.unlink(missing_ok=True)
    runner = REPO / "benchmarks" / "one.py"
    cmd = [sys.executable, str(runner), name, "--json-out", str(result_file)] + (
        ["--quick"] if quick else []
    )
    started = time.monotonic()
    print(f"== {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO)
    took = time.monotonic() - started
    if proc.returncode != 0 or not result_file.exists():
        print(f"  {name}: FAILED (exit {proc.returncode}) after {took:.0f}s", file=sys.stderr)
        return {f"bench_{name}_failed": 1.0}
    figures = json.loads(result_file.read_text())
    print(f"  {name}: {len(figures)} figures in {took:.0f}s", file=sys.stderr)
    return {k: float(v) for k, v in figures.items() if isinstance(v, int | float)}


def verdicts(figures: dict[str, float]) -> list[str]:
    lines = []
    for key, target, kind in TARGETS:
        if key not in figures:
            continue
        value = figures[key]
        ok = value >= target if kind == "min" else value <= target
        sign = ">=" if kind == "min" else "<="
        lines.append(
            f"{key:28} {value:12.3f}   target {sign} {target:<8g} {'ok' if ok else 'MISSED'}"
        )
    return lines


# A figure's second baseline is `baseline_<name>_<key>` (news-please beside trafilatura).
SECOND_BASELINES = ("newsplease",)


def _baselines(figures: dict[str, float], key: str) -> list[tuple[str, str, float]]:
    """(label, ratio key, value) of each baseline of `key` in the figures."""
    found = []
    if f"baseline_{key}" in figures:
        found.append(("", f"ratio_{key}", figures[f"baseline_{key}"]))
    for name in SECOND_BASELINES:
        if f"baseline_{name}_{key}" in figures:
            found.append((name, f"ratio_{name}_{key}", figures[f"baseline_{name}_{key}"]))
    return found


def ratios(figures: dict[str, float]) -> dict[str, float]:
    """For every baseline of a figure, the ratio ours / baseline (same input, same run)."""
    out = {}
    for key, ours in figures.items():
        if key.startswith(("baseline_", "ratio_")):
            continue
        for _, ratio_key, base in _baselines(figures, key):
            if base:
                out[ratio_key] = round(ours / base, 3)
    return out


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def markdown_table(figures: dict[str, float], title: str) -> str:
    """The README's benchmark table: each figure with its baseline, ratio and target."""
    targets = {key: (target, kind) for key, target, kind in TARGETS}
    rows = [
        f"{title}\n",
        "| figure | ours | baseline (same run) | ours / baseline | target |",
        "|---|---:|---:|---:|---|",
    ]
    for key, value in sorted(figures.items()):
        if key.startswith(("baseline_", "ratio_", "bench_")):
            continue
        found = _baselines(figures, key)
        base = "; ".join(f"{label} {_number(v)}".strip() for label, _, v in found)
        ratio = "; ".join(
            f"{label} {figures[r]:.2f}x".strip() for label, r, _ in found if r in figures
        )
        target = ""
        if key in targets:
            goal, kind = targets[key]
            ok = value >= goal if kind == "min" else value <= goal
            target = f"{'>=' if kind == 'min' else '<='} {goal:g} {'ok' if ok else '**missed**'}"
        rows.append(f"| `{key}` | {_number(value)} | {base} | {ratio} | {target} |")
    return "\n".join(rows) + "\n"


def chart(figures: dict[str, float], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    throughput = [
        k for k in figures if k.endswith("_per_s") and not k.startswith(("baseline_", "ratio_"))
    ]
    latency = [k for k in figures if k.endswith(("_p50_s", "_p99_s", "_p95_s"))]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    ours = [figures[k] for k in throughput]
    base = [figures.get(f"baseline_{k}", 0.0) for k in throughput]
    positions = range(len(throughput))
    left.barh([p + 0.2 for p in positions], ours, height=0.4, label="caucasus-watch")
    left.barh([p - 0.2 for p in positions], base, height=0.4, label="baseline (same run)")
    left.set_yticks(list(positions), throughput)
    left.set_xscale("log")
    left.set_title("throughput (items/s, log scale)")
    left.legend()
    right.barh(latency, [figures[k] for k in latency])
    right.set_title("latency (s)")
    fig.suptitle(f"caucasus-watch benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Run every benchmark against the real local services."
    )
    parser.add_argument(
        "--quick", action="store_true", help="small inputs (minutes, not tens of minutes)"
    )
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(MODULES)}")
    parser.add_argument("--out", default=str(REPO / "bench-results" / "latest.json"))
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chosen = args.only.split(",") if args.only else list(MODULES)
    figures: dict[str, float] = {}
    if args.only and out.exists():
        # Re-running some benchmarks updates their figures and keeps the others of the report.
        figures = {
            k: v
            for k, v in json.loads(out.read_text()).items()
            if not k.startswith(("ratio_", "bench_"))
        }
    for name in chosen:
        figures.update(run_module(name, args.quick, out.parent))
    figures.update(ratios(figures))
    figures["bench_quick"] = 1.0 if args.quick else 0.0
    figures["bench_cpu_count"] = float(len(__import__("os").sched_getaffinity(0)))
    out.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n")
    chart(figures, out.with_suffix(".png"))
    title = (
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {figures['bench_cpu_count']:.0f} cores "
        f"({'quick' if args.quick else 'full'} run), Kafka and Elasticsearch on the same cores."
    )
    out.with_suffix(".md").write_text(markdown_table(figures, title))
    print(f"\n# caucasus-watch benchmark ({platform.node()}, {'quick' if args.quick else 'full'})")
    for key, value in sorted(figures.items()):
        print(f"{key:36} {value:14.3f}")
    print("\n# against the targets")
    print("\n".join(verdicts(figures)) or "(no targeted figures)")
    print(f"\nwrote {out}, {out.with_suffix('.png')} and {out.with_suffix('.md')} (README table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
