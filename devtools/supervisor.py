"""Runs the services as local processes: for the demo, the benchmarks and the fault tests (dev-only:
not shipped; the services themselves never import it).

Each service is `cwatch <service> run` in its own process group, logging to a file, so it can be
stopped gracefully (SIGTERM: flush producers, commit offsets) or killed (SIGKILL) on purpose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The order is the data flow; consumers start before producers so nothing waits on them.
SERVICE_COMMANDS: dict[str, list[str]] = {
    "indexer": ["indexer", "run"],
    "extractor": ["extractor", "run"],
    "alerts": ["alerts", "run"],
    "api": ["api", "run"],
    "ingestor": ["ingestor", "run"],
}


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *self.argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Graceful stop; escalates to SIGKILL after `timeout_s`."""
        if not self.process:
            return None
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int | None:
        """SIGKILL the whole process group: a crash, on purpose."""
        if not self.process:
            return None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.process.wait(timeout=30)

    def restart(self) -> ServiceProcess:
        self.stop()
        return self.start()

    def rss_mb(self) -> float:
        """Resident memory of the process and its children, in MB."""
        if not self.running() or self.pid is None:
            return 0.0
        return sum(rss_kb(pid) for pid in process_tree(self.pid)) / 1024

    def cpu_seconds(self) -> float:
        if not self.running() or self.pid is None:
            return 0.0
        return sum(cpu_seconds(pid) for pid in process_tree(self.pid))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(proc.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Stack:
    """The set of service processes of one deployment namespace."""

    def __init__(
        self, log_dir: Path, env: Mapping[str, str], services: list[str] | None = None
    ) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        names = services or list(SERVICE_COMMANDS)
        self.services = {
            name: ServiceProcess(
                name, SERVICE_COMMANDS[name], log_dir / f"{name}.log", dict(self.env)
            )
            for name in names
        }

    def start(self) -> Stack:
        for service in self.services.values():
            service.start()
        return self

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def check_alive(self) -> None:
        for service in self.services.values():
            if not service.running():
                raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")

    def rss_mb(self) -> dict[str, float]:
        return {name: service.rss_mb() for name, service in self.services.items()}

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]


def wait_until(predicate, timeout_s: float, interval_s: float = 0.25) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False
