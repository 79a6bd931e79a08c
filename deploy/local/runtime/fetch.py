"""Fetching the pinned Kafka jars and Elasticsearch zip from Maven Central, once, into the cache."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from .config import HERE, Config, RuntimeFailure, say


def mvn(args: list[str], cwd: Path) -> None:
    if not shutil.which("mvn"):
        raise RuntimeFailure(
            "Maven (`mvn`) is not installed; install it (e.g. apt-get install maven)"
        )
    cmd = ["mvn", "-B", "-q", "--strict-checksums", *args]
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise RuntimeFailure(f"Maven failed ({' '.join(cmd)}):\n{tail}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(cfg: Config) -> None:
    """Download Kafka's jars and the Elasticsearch zip once; later runs find them cached."""
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    marker = cfg.kafka_libs / ".complete"
    if marker.exists():
        say(f"Kafka {cfg.kafka_version} cached in {cfg.kafka_libs.parent}")
    else:
        say(
            f"fetching Kafka {cfg.kafka_version} (broker jars + dependencies) from Maven Central ..."
        )
        partial = cfg.kafka_libs.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        mvn(
            [
                f"-Dkafka.version={cfg.kafka_version}",
                f"-Dslf4j.version={cfg.slf4j_version}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            cwd=HERE,
        )
        shutil.rmtree(cfg.kafka_libs, ignore_errors=True)
        partial.rename(cfg.kafka_libs)
        marker.write_text(cfg.kafka_version)
        say(f"Kafka jars: {len(list(cfg.kafka_libs.glob('*.jar')))} in {cfg.kafka_libs}")
    if cfg.es_zip.exists() and sha256_of(cfg.es_zip) == cfg.es_sha256:
        say(f"Elasticsearch {cfg.es_version} cached at {cfg.es_zip}")
        return
    say(f"fetching Elasticsearch {cfg.es_version} (integ-test-zip) from Maven Central ...")
    artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{cfg.es_version}:zip"
    mvn(
        [
            # The pom's properties must resolve even for a goal that does not use its dependencies.
            f"-Dkafka.version={cfg.kafka_version}",
            f"-Dslf4j.version={cfg.slf4j_version}",
            "dependency:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={cfg.cache_dir}",
        ],
        cwd=HERE,
    )
    actual = sha256_of(cfg.es_zip)
    if actual != cfg.es_sha256:
        cfg.es_zip.unlink()
        raise RuntimeFailure(
            f"Elasticsearch zip checksum mismatch: expected {cfg.es_sha256}, got {actual}; removed it"
        )
    say(f"Elasticsearch zip verified (sha256 {actual[:16]}...)")
