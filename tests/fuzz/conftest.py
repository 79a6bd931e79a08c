"""Hypothesis profiles for the fuzz harness.

- `cwatch-ci` (the default, what `make test` runs): a fixed number of examples per property and
  derandomize=True, so every run tries the same inputs: deterministic, never flaky, and the whole
  fuzz directory stays well under two minutes on two shared cores.
- `cwatch-long`: CWATCH_FUZZ_PROFILE=cwatch-long (and CWATCH_FUZZ_EXAMPLES=N, default 5000) for
  a longer local hunt with random inputs and hypothesis' example database (.pytest_cache/hypothesis/), so a
  failure found once is replayed first the next time.

Hypothesis' own per-example deadline is off: each property asserts its own, generous time and
memory bound per input (tests/fuzz/budget.py), which is the bound that matters.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis' example database and caches go where pytest's do (ignored by git), not into a
# .hypothesis/ folder at the top of the clone.
set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / ".pytest_cache" / "hypothesis")

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "cwatch-ci",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[*_SLOW_OK, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "cwatch-long",
    max_examples=int(os.environ.get("CWATCH_FUZZ_EXAMPLES", "5000")),
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[*_SLOW_OK, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("CWATCH_FUZZ_PROFILE", "cwatch-ci"))
