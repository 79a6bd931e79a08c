"""Where everything lives: the pinned versions, the ports, the run and cache folders, and where
Elasticsearch's folder goes when the run dir is private."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parents[1]  # deploy/local: versions.env and the Maven pom
REPO = HERE.parents[1]

ES_USER = "cwatch"


# Where Elasticsearch's folder goes when the run dir is private: sticky, world-traversable.
FALLBACK_BASE = Path("/var/tmp")


class RuntimeFailure(Exception):
    """A failure with a message for a person; main() prints it and exits 1."""


def say(message: str) -> None:
    print(f"[cwatch-runtime] {message}", file=sys.stderr, flush=True)


def read_versions() -> dict[str, str]:
    versions = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


@dataclass(frozen=True)
class Config:
    kafka_version: str
    scala_version: str
    slf4j_version: str
    es_version: str
    es_sha256: str
    cache_dir: Path
    run_dir: Path
    kafka_host: str
    kafka_port: int
    controller_port: int
    es_url: str
    es_host: str
    es_port: int
    es_transport_port: int
    es_heap: str
    kafka_heap: str
    java_home: str | None
    timeout_s: float
    es_dir: Path

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka_{self.scala_version}-{self.kafka_version}" / "libs"

    @property
    def es_zip(self) -> Path:
        return self.cache_dir / f"elasticsearch-{self.es_version}.zip"

    @property
    def kafka_dir(self) -> Path:
        return self.run_dir / "kafka"


def others_can_traverse(path: Path) -> bool:
    """Whether any user may pass through every existing folder down to `path` (o+x on each).
    Folders that do not exist yet do not count: the runtime creates them traversable."""
    for folder in (path, *path.parents):
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            return False
    return True


def fallback_es_dir(run_dir: Path) -> Path:
    """A stable place outside a private run dir: one per run dir, so two clones never share it."""
    digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:10]
    return FALLBACK_BASE / f"caucasus-watch-{digest}" / "elasticsearch"


def choose_es_dir(run_dir: Path, *, explicit: bool, other_user: bool) -> Path:
    """Elasticsearch's folder: <run dir>/elasticsearch unless the user that runs Elasticsearch
    (`other_user`: started by root) could not reach it and the run dir was not chosen explicitly.
    An earlier `up` that moved it left a link, which `down` and `status` follow."""
    default = run_dir / "elasticsearch"
    if default.is_symlink():
        return default.resolve()
    if explicit or not other_user or others_can_traverse(run_dir):
        return default
    return fallback_es_dir(run_dir)


def as_root() -> bool:
    return os.geteuid() == 0


def load_config() -> Config:
    versions = read_versions()
    env = os.environ
    run_dir = Path(env.get("CWATCH_RUN_DIR", REPO / ".run")).resolve()
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092").split(",")[0].strip()
    kafka_host, _, kafka_port = bootstrap.rpartition(":")
    es_url = env.get("ELASTICSEARCH_URL", "http://127.0.0.1:19200").rstrip("/")
    parsed = urlparse(es_url)
    cache_root = Path(env.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Config(
        kafka_version=versions["KAFKA_VERSION"],
        scala_version=versions["SCALA_BINARY_VERSION"],
        slf4j_version=versions["SLF4J_VERSION"],
        es_version=versions["ELASTICSEARCH_VERSION"],
        es_sha256=versions["ELASTICSEARCH_ZIP_SHA256"],
        cache_dir=Path(env.get("CWATCH_CACHE_DIR", cache_root / "caucasus-watch")),
        run_dir=run_dir,
        kafka_host=kafka_host or "127.0.0.1",
        kafka_port=int(kafka_port or 19092),
        controller_port=int(env.get("CWATCH_KAFKA_CONTROLLER_PORT", int(kafka_port or 19092) + 1)),
        es_url=es_url,
        es_host=parsed.hostname or "127.0.0.1",
        es_port=parsed.port or 9200,
        es_transport_port=int(env.get("CWATCH_ES_TRANSPORT_PORT", (parsed.port or 9200) + 100)),
        es_heap=env.get("CWATCH_ES_HEAP", "1g"),
        kafka_heap=env.get("CWATCH_KAFKA_HEAP", "512m"),
        java_home=env.get("CWATCH_JAVA_HOME"),
        timeout_s=float(env.get("CWATCH_START_TIMEOUT_S", "120")),
        es_dir=choose_es_dir(run_dir, explicit="CWATCH_RUN_DIR" in env, other_user=as_root()),
    )
