"""Processes the runtime starts: pid files, the -Dcwatch.run tag, waiting for health, stopping."""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .config import RuntimeFailure, say


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and ") Z" in stat.read_text())


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def processes_under(marker: str) -> list[int]:
    """Pids whose command line mentions `marker` (our run dir): nothing of ours is left behind."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(proc.name))
    return pids


def stop_pids(pids: list[int], name: str, grace_s: float = 30.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if pid_alive(pid):
            say(f"{name} pid {pid} ignored SIGTERM for {grace_s:.0f}s; killing it")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_until(check, what: str, timeout_s: float, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    reason = ""
    while time.monotonic() < deadline:
        ok, reason = check()
        if ok:
            return
        time.sleep(0.5)
    raise RuntimeFailure(
        f"{what} not healthy after {timeout_s:.0f}s: {reason}\n--- {log} ---\n{tail(log)}"
    )


@dataclass(frozen=True)
class Component:
    """One service the runtime may start: its pid file and the folder its JVM is tagged with."""

    name: str
    pid_file: Path
    marker_dir: Path


def stop_component(component: Component) -> None:
    """Stop every process of ours for `component`: by pid file and by the JVM's -Dcwatch.run tag
    (the pid file can be missing after a start that failed halfway)."""
    tagged = processes_under(f"-Dcwatch.run={component.marker_dir} ")
    pids = sorted(set(tagged + [p for p in [read_pid(component.pid_file)] if p]))
    if pids:
        say(f"stopping {component.name} (pid {', '.join(map(str, pids))})")
        stop_pids(pids, component.name)
    else:
        say(f"{component.name}: nothing of ours runs")
    component.pid_file.unlink(missing_ok=True)
