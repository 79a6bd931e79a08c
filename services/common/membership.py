"""Static consumer-group membership: a stable `group.instance.id` for each process.

A consumer that dies without leaving its group (kill -9, OOM, a power cut) stays a member until
its session expires, and a replacement that joins as a new member waits for that: faust's
default 60 s session made a restarted extractor wait 101 s before its first report. A member
that rejoins with the `group.instance.id` of the dead one replaces it at once and gets its
partitions back without a rebalance (KIP-345).

The id must be the same after a restart and different for every live process of the group. By
default it is `<host>-<n>`, where n is the lowest slot that no live process of the group holds
on this host: a slot is an flock on a file, which the kernel releases when its holder dies,
however it dies. So a restarted process takes the slot of the one it replaces, and a second
process started beside it takes the next one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MAX_SLOTS = 256
DYNAMIC = "none"
"""Setting value that turns static membership off (every start is a new member)."""

_ILLEGAL = re.compile(r"[^a-zA-Z0-9._-]")
_held: dict[tuple[str, int], int] = {}  # (group, slot) -> fd of its lock, open while held
_slots: dict[tuple[str, str], tuple[str, int]] = {}  # (group, instance id) -> its slot


def legal_id(text: str) -> str:
    """Kafka accepts [a-zA-Z0-9._-] and at most 249 characters in a group.instance.id."""
    return _ILLEGAL.sub("_", text)[:249]


def slot_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"cwatch-members-{os.getuid()}"


def claim_slot(group: str, folder: Path | None = None, limit: int = MAX_SLOTS) -> int | None:
    """The lowest slot of `group` no live process holds, held by this process until it exits;
    None when no slot can be had (then the caller falls back to dynamic membership)."""
    folder = folder or slot_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("no folder for group slots", extra={"folder": str(folder), "error": str(exc)})
        return None
    for slot in range(limit):
        path = folder / f"{legal_id(group)}.{slot}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.warning("cannot open a group slot", extra={"path": str(path), "error": str(exc)})
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held[(group, slot)] = fd
        return slot
    return None


def release(group: str, instance: str | None) -> None:
    """Give back the slot behind `instance` (a consumer of this process closed): the next
    consumer of the group in this process takes the same id, hence the same partitions, at
    once. A process that exits releases its slots anyway."""
    key = _slots.pop((group, instance or ""), None)
    fd = _held.pop(key, None) if key else None
    if fd is not None:
        os.close(fd)


def instance_id(group: str, configured: str = "") -> str | None:
    """This process's `group.instance.id` in `group`: `configured` when set (unique per group,
    e.g. a pod name), None for dynamic membership, else `<host>-<slot>`."""
    if configured.strip().lower() == DYNAMIC:
        return None
    if configured.strip():
        return legal_id(configured.strip())
    slot = claim_slot(group)
    if slot is None:
        return None
    made = legal_id(f"{socket.gethostname()}-{slot}")
    _slots[(group, made)] = (group, slot)
    return made
