"""Runs inside the news-please virtual environment (see newsplease_baseline.py), never imported here.

Reads a JSON list of HTML pages, extracts each with `NewsPlease.from_html` (no image fetching,
so no network), `rounds` times, and writes {"texts", "seconds", "failed"}: the last round's
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

    def main_text(html: str) -> str | None:
        try:
            return NewsPlease.from_html(html, url=None, fetch_images=False).maintext or ""
        except Exception:  # newspaper4k raises ImportError on Korean or Japanese pages
            return None

    seconds: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        texts = [main_text(html) for html in pages]
        seconds.append(time.perf_counter() - started)
    result = {
        "texts": [t or "" for t in texts],
        "seconds": seconds,
        "failed": sum(t is None for t in texts),
    }
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
