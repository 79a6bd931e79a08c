"""The local Elasticsearch node: its folder (reachable by its unprivileged user), install, start
and health."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from .config import ES_USER, Config, RuntimeFailure, as_root, say
from .processes import Component, tail


def es_get(cfg: Config, path: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(f"{cfg.es_url}{path}", timeout=timeout) as response:
        return json.loads(response.read())


def es_healthy(cfg: Config) -> tuple[bool, str]:
    try:
        health = es_get(cfg, "/_cluster/health")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"{cfg.es_url} does not answer: {exc}"
    status = health.get("status")
    return status in ("yellow", "green"), f"cluster health {status}"


def es_version_running(cfg: Config) -> str:
    try:
        nodes = es_get(cfg, "/_nodes/_local?filter_path=nodes.*.version").get("nodes", {})
        return next(iter(nodes.values()))["version"]
    except Exception:
        return "?"


def ensure_es_user() -> None:
    """Elasticsearch refuses to run as root: run it as a dedicated system user."""
    result = subprocess.run(["id", "-u", ES_USER], capture_output=True)
    if result.returncode == 0:
        return
    say(f"creating system user {ES_USER!r} to run Elasticsearch (it refuses to run as root)")
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
        check=True,
    )


def user_can_reach(path: Path) -> bool:
    result = subprocess.run(
        ["runuser", "-u", ES_USER, "--", "test", "-x", str(path)], capture_output=True
    )
    return result.returncode == 0


def prepare_es_dir(cfg: Config) -> None:
    """Create Elasticsearch's folder where its user can reach it. A folder moved out of a private
    run dir lives in /var/tmp, where anyone may create names: it must be a real directory of ours
    that nobody else can write, or we refuse (never follow a planted link as root)."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.es_dir.parent == cfg.run_dir:
        if as_root():  # a umask of 077 must not hide our own run dir from Elasticsearch's user
            cfg.run_dir.chmod(cfg.run_dir.stat().st_mode | 0o711)
        return
    parent = cfg.es_dir.parent
    try:
        parent.mkdir(mode=0o755)
    except FileExistsError:
        pass
    info = parent.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise RuntimeFailure(
            f"{parent} exists but is not a private directory of ours (a link, another owner or "
            "writable by others); remove it or set CWATCH_RUN_DIR"
        )
    parent.chmod(0o755)
    cfg.es_dir.mkdir(exist_ok=True)
    link = cfg.run_dir / "elasticsearch"
    if not link.is_symlink() and not link.exists():
        link.symlink_to(cfg.es_dir, target_is_directory=True)
    say(
        f"user {ES_USER!r} cannot reach {cfg.run_dir} (a parent directory is private): "
        f"Elasticsearch runs from {cfg.es_dir} ({link} links there; CWATCH_RUN_DIR overrides)"
    )


def install_es(cfg: Config) -> Path:
    """Unpack the cached zip into the run dir (readable by the unprivileged user, unlike ~root)."""
    home = cfg.es_dir / f"elasticsearch-{cfg.es_version}"
    if (home / ".complete").exists():
        return home
    say(f"unpacking Elasticsearch {cfg.es_version} into {cfg.es_dir}")
    shutil.rmtree(home, ignore_errors=True)
    cfg.es_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(cfg.es_zip) as archive:
        archive.extractall(cfg.es_dir)
    for entry in (home / "bin").iterdir():
        entry.chmod(0o755)
    jdk_bin = home / "lib" / "tools"
    for exe in jdk_bin.rglob("*") if jdk_bin.exists() else []:
        if exe.is_file():
            exe.chmod(0o755)
    (home / ".complete").write_text(cfg.es_version)
    return home


def start_es(cfg: Config, java: Path) -> None:
    prepare_es_dir(cfg)
    home = install_es(cfg)
    data, logs, tmp = cfg.es_dir / "data", cfg.es_dir / "logs", cfg.es_dir / "tmp"
    for folder in (data, logs, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    pid_file = cfg.es_dir / "elasticsearch.pid"
    pid_file.unlink(missing_ok=True)
    settings = {
        "cluster.name": "cwatch-local",
        "node.name": "cwatch-1",
        "discovery.type": "single-node",
        "network.host": cfg.es_host,
        "http.port": str(cfg.es_port),
        "transport.port": str(cfg.es_transport_port),
        "xpack.security.enabled": "false",
        "path.data": str(data),
        "path.logs": str(logs),
        # A shared dev disk can be >90% full; that must not turn the cluster read-only.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    args = [str(home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file)]
    for key, value in settings.items():
        args += ["-E", f"{key}={value}"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ES_JAVA_HOME": str(java),
        "ES_TMPDIR": str(tmp),
        "ES_JAVA_OPTS": f"-Xms{cfg.es_heap} -Xmx{cfg.es_heap} -Dcwatch.run={cfg.es_dir}",
        "HOME": str(cfg.es_dir),
    }
    if as_root():
        ensure_es_user()
        if not user_can_reach(cfg.es_dir):
            raise RuntimeFailure(
                f"user {ES_USER!r} cannot reach {cfg.es_dir} (a parent directory is private); "
                "set CWATCH_RUN_DIR to a world-traversable place, or leave it unset and the "
                "runtime picks one"
            )
        subprocess.run(["chown", "-R", f"{ES_USER}:", str(cfg.es_dir)], check=True)
        args = ["runuser", "-u", ES_USER, "--", *args]
    log_path = cfg.es_dir / "startup.log"
    with log_path.open("ab") as log:
        # -d returns once the node started (or failed); the server JVM keeps running detached.
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=cfg.timeout_s)
        except subprocess.TimeoutExpired:
            rc = 0  # still starting; the health wait decides
    if rc != 0:
        raise RuntimeFailure(f"Elasticsearch did not start (exit {rc}):\n{tail(log_path)}")
    say(f"Elasticsearch {cfg.es_version} starting on {cfg.es_url} (log {logs})")


def es_component(cfg: Config) -> Component:
    return Component("Elasticsearch", cfg.es_dir / "elasticsearch.pid", cfg.es_dir)
