"""Hostile texts cost time in proportion to their length: no backtracking regex, no number x
kind-word product. Each input here took 10 s or more before the fix."""

from __future__ import annotations

import time  # process_time: CPU spent here, so a loaded machine cannot fail a bound

import pytest

from services.extractor.budget import Budget
from services.extractor.dedup import DedupState
from services.extractor.figures import MAX_FIGURES, find_figures
from services.extractor.handler import Origin, handle_raw
from services.extractor.pipeline import ExtractorConfig

from .conftest import make_raw

HOSTILE = {
    # _NOT_A_COUNT_AFTER had \s* twice in a row: 8,000 spaces after a number took 19 s.
    "spaces-after-a-number": "5 killed 1" + " " * 8000 + "x",
    "mixed-blanks-after-a-number": "5 killed 1" + "\t \u00a0" * 3000 + "x",
    # every number compared with every kind word, every figure searching the whole sentence
    # for a claimant: 22 s.
    "numbers-and-kinds": "1 killed " * 5000,
    "numbers-and-kinds-with-commas": "1, killed, " * 5000,
    # credits.py's paragraph credit had [ \t]* twice round an optional newline: 8,000 blanks
    # after a full stop took 0.6 s, 50,000 about 25 s.
    "blanks-after-a-full-stop": "Shelling near Lachin." + " \t" * 25000 + "x",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_figures_take_linear_time_on_hostile_sentences(text: str) -> None:
    started = time.process_time()
    figures = find_figures([text])
    assert time.process_time() - started < 2.0
    assert len(figures) <= MAX_FIGURES


@pytest.fixture(scope="module")
def warm() -> None:
    """Models and rules load on the first extraction: not what is timed here."""
    value = make_raw(text="Shelling near Lachin killed 3 soldiers.").model_dump_json().encode()
    handle_raw(value, Origin(), DedupState(), ExtractorConfig())


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_pushed_hostile_text_is_extracted_quickly_without_a_time_limit(
    text: str, warm: None
) -> None:
    config = ExtractorConfig(budget=Budget(timeout_s=0))  # must be fast by itself
    value = make_raw(text=text, title="Shelling").model_dump_json().encode()
    started = time.process_time()
    outcome = handle_raw(value, Origin(), DedupState(), config)
    assert time.process_time() - started < 5.0
    assert outcome.dead_letter is None


def test_many_claims_stop_at_the_figure_budget() -> None:
    sentences = [f"{n} soldiers were killed in village {n}." for n in range(2, 1000)]
    assert len(find_figures(sentences)) == MAX_FIGURES
