"""Choosing a JDK that both pinned releases support."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .config import Config, RuntimeFailure

# JDK majors each pinned release supports; the first JDK found in both sets wins, newest first.

# JDK majors each pinned release supports; the first JDK found in both sets wins, newest first.
KAFKA_JDKS = {17, 21}


ELASTICSEARCH_JDKS = {17, 21, 22, 23, 24}


def java_major(java_home: Path) -> int | None:
    java = java_home / "bin" / "java"
    if not java.exists():
        return None
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def pick_jdk(cfg: Config) -> tuple[Path, int]:
    supported = KAFKA_JDKS & ELASTICSEARCH_JDKS
    candidates: list[Path] = []
    for explicit in (cfg.java_home, os.environ.get("JAVA_HOME")):
        if explicit:
            candidates.append(Path(explicit))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates += sorted(p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink())
    found = []
    for home in candidates:
        major = java_major(home)
        if major is None:
            continue
        found.append(f"{home} (Java {major})")
        if major in supported:
            if cfg.java_home and home != Path(cfg.java_home):
                continue
            return home, major
    if cfg.java_home:
        raise RuntimeFailure(
            f"CWATCH_JAVA_HOME={cfg.java_home} is not a JDK that Kafka {cfg.kafka_version} and "
            f"Elasticsearch {cfg.es_version} both support (Java {sorted(supported)})"
        )
    raise RuntimeFailure(
        f"no JDK supported by Kafka {cfg.kafka_version} and Elasticsearch {cfg.es_version} "
        f"(needs Java {sorted(supported)}); found: {found or 'none'}. "
        "Install one (e.g. apt-get install openjdk-17-jdk-headless) or set CWATCH_JAVA_HOME."
    )
