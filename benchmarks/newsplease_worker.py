"""Runs inside the news-please virtual environment (see newsplease_baseline.py), never imported here.

Reads a JSON list of HTML pages, extracts each with `NewsPlease.from_html` (no image fetching,
so no network), `rounds` times, and writes {"texts", "seconds", "failed"}: the first round's
main texts, each round's total seconds, and how many pages raised (counted as empty text)."""

import json
import logging
import sys
import time
import warnings


def main() -> int:
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore")
    from newsplease import NewsPlease

    source, target, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(source, encoding="utf-8") as handle:
        pages = json.load(handle)
    texts: list[str] = []
    seconds: list[float] = []
    failed = 0
    for r in range(rounds):
        started = time.perf_counter()
        for html in pages:
            try:
                text = NewsPlease.from_html(html, url=None, fetch_images=False).maintext or ""
            except Exception:  # newspaper4k raises ImportError on Korean or Japanese pages
                text = ""
                failed += r == 0
            if r == 0:
                texts.append(text)
        seconds.append(time.perf_counter() - started)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump({"texts": texts, "seconds": seconds, "failed": failed}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
