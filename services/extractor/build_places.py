"""Build `data/gazetteer/places_generated.tsv.gz` from the Who's On First names of Armenia and
Azerbaijan (../shared/data/gazetteer/wof_names_am_az.tsv), once, by a maintainer:

    python -m services.extractor.build_places [SOURCE_TSV] [OUT_TSV_GZ]

The output is committed: the product never reads /work/shared at run time. Only places a
report can be about are kept (populated places and administrative regions); names whose
folded form is shorter than 4 letters are dropped because they collide with ordinary words.
The source has no coordinates, so generated places carry none (curated ones do).
"""

from __future__ import annotations

import csv
import gzip
import sys
from collections import defaultdict
from pathlib import Path

from services.common.fold import fold_text

KEEP_TYPES = {"locality", "localadmin", "county", "region", "macroregion"}
SIDE_KEYS = {
    "hy": "name:hye_x_preferred",
    "az": "name:aze_x_preferred",
    "ru": "name:rus_x_preferred",
}
HEADER = ["id", "country", "placetype", "name", "hy", "az", "ru", "aliases"]
MIN_FOLDED = 4
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gazetteer"
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "gazetteer" / "places_generated.tsv.gz"


def build(source: Path, out: Path) -> int:
    rows: dict[str, dict[str, object]] = {}
    names: dict[str, dict[str, str]] = defaultdict(dict)
    aliases: dict[str, dict[str, str]] = defaultdict(dict)
    with source.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            if rec["placetype"] not in KEEP_TYPES or rec["country"] not in {"AM", "AZ"}:
                continue
            wof = rec["wof_id"]
            rows.setdefault(
                wof, {"country": rec["country"], "type": rec["placetype"], "wof": rec["wof_name"]}
            )
            key, value = rec["name_key"], rec["name_value"].strip()
            if not value or "|" in value or "\t" in value:
                continue
            names[wof].setdefault(key, value)
            for candidate in (value, rec["wof_name"]):
                folded = fold_text(candidate)
                if len(folded.replace(" ", "")) >= MIN_FOLDED:
                    aliases[wof].setdefault(folded, candidate)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(out, "wt", encoding="utf-8", newline="", compresslevel=9) as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(HEADER)
        for wof in sorted(rows, key=int):
            if not aliases[wof]:
                continue
            row = rows[wof]
            nm = names[wof]
            canonical = nm.get("name:eng_x_preferred") or str(row["wof"])
            sides = [nm.get(SIDE_KEYS[s], "") for s in ("hy", "az", "ru")]
            writer.writerow(
                [f"place:wof-{wof}", row["country"], row["type"], canonical, *sides]
                + ["|".join(sorted(aliases[wof]))]
            )
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else DEFAULT_SOURCE / "wof_names_am_az.tsv"
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    count = build(source, out)
    print(f"wrote {count} places to {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
