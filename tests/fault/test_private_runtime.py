"""The fault tests' private Kafka and Elasticsearch are not the shared ones they would stop."""

from __future__ import annotations

import os

import pytest

from tests.fault.conftest import PrivateRuntime

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def test_private_runtime_is_separate_from_the_shared_one(private_runtime: PrivateRuntime) -> None:
    assert private_runtime.kafka_bootstrap != os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
