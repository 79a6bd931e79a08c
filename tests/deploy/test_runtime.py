"""Pure parts of the local runtime (deploy/local/runtime.py) that start Kafka and Elasticsearch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUNTIME = Path(__file__).resolve().parents[2] / "deploy" / "local" / "runtime.py"


def _runtime() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cwatch_runtime", RUNTIME)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cwatch_runtime", module)
    spec.loader.exec_module(module)
    return module


def test_kafka_cluster_ids_never_start_with_a_dash_the_storage_tool_reads_as_an_option() -> None:
    make = _runtime().kafka_cluster_id
    ids = {make() for _ in range(5000)}  # ~78 would start with "-" if drawn plainly
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
