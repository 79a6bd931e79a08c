"""Static group membership: a restarted process gets the group.instance.id of the one it replaces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from services.common import membership

REPO = Path(__file__).resolve().parents[2]


def test_live_processes_of_a_group_get_different_slots_and_other_groups_start_at_zero(
    tmp_path: Path,
) -> None:
    assert membership.claim_slot("g1", tmp_path) == 0
    assert membership.claim_slot("g1", tmp_path) == 1  # a second holder while the first lives
    assert membership.claim_slot("g2", tmp_path) == 0


def test_a_killed_holder_frees_its_slot_for_the_process_that_replaces_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from services.common import membership;"
            f"print(membership.claim_slot('g', Path({str(tmp_path)!r})), flush=True); time.sleep(60)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
        assert membership.claim_slot("g", tmp_path) == 1  # taken while the holder lives
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert membership.claim_slot("g", tmp_path) == 0  # the replacement's id is the dead one's
    finally:
        holder.kill()
        holder.wait(10)


def test_instance_ids_are_legal_for_kafka_and_can_be_set_or_turned_off() -> None:
    assert membership.legal_id("pod/a b:1") == "pod_a_b_1"
    assert membership.instance_id("g", "none") is None
    assert membership.instance_id("g", "extractor-7") == "extractor-7"
    made = membership.instance_id("g-test-default")
    assert made is not None and made.rsplit("-", 1)[1].isdigit()


def test_a_consumer_closed_in_this_process_gives_its_id_to_the_next_one() -> None:
    group = f"g-release-{os.getpid()}"
    first = membership.instance_id(group)
    assert membership.instance_id(group) != first  # both alive: two ids
    membership.release(group, first)
    assert membership.instance_id(group) == first  # the next one replaces the closed one
