"""Local runtime: a real single-node Kafka (KRaft) and Elasticsearch, without Docker.

Fetches the pinned releases from Maven Central with Maven (checksums verified, cached outside the
repo), picks a JDK both support, runs them as local processes and waits for their health.

    python deploy/local/runtime.py up|down|status|logs|fetch|env

Everything it starts lives in one run directory (pids, logs, data), <repo>/.run by default. When
KAFKA_BOOTSTRAP_SERVERS or ELASTICSEARCH_URL point at a service that already answers, that service
is left alone. A start that fails stops what it started.

Started by root, Elasticsearch runs as the unprivileged user `cwatch`, which must be able to reach
its folder. When the repo lies in a private directory (root's home, a `mktemp -d`), Elasticsearch's
folder moves to /var/tmp/caucasus-watch-<hash of the run dir> and <run dir>/elasticsearch links
there; CWATCH_RUN_DIR still chooses the run directory explicitly.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ES_USER = "cwatch"
# Where Elasticsearch's folder goes when the run dir is private: sticky, world-traversable.
FALLBACK_BASE = Path("/var/tmp")

# JDK majors each pinned release supports; the first JDK found in both sets wins, newest first.
KAFKA_JDKS = {17, 21}
ELASTICSEARCH_JDKS = {17, 21, 22, 23, 24}


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


# ---------------------------------------------------------------- fetching


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


# ---------------------------------------------------------------- JDK


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


# ---------------------------------------------------------------- processes


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


# ---------------------------------------------------------------- Kafka


def kafka_healthy(cfg: Config) -> tuple[bool, str]:
    if not port_open(cfg.kafka_host, cfg.kafka_port):
        return False, f"nothing listens on {cfg.kafka_bootstrap}"
    try:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=cfg.kafka_bootstrap,
            request_timeout_ms=5000,
            client_id="cwatch-health",
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:  # any client failure means "not healthy yet"
        return False, f"metadata request failed: {exc}"
    return True, "answers metadata"


def kafka_properties(cfg: Config) -> str:
    data = cfg.kafka_dir / "data"
    return f"""# generated by deploy/local/runtime.py
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{cfg.kafka_host}:{cfg.controller_port}
listeners=PLAINTEXT://{cfg.kafka_host}:{cfg.kafka_port},CONTROLLER://{cfg.kafka_host}:{cfg.controller_port}
advertised.listeners=PLAINTEXT://{cfg.kafka_host}:{cfg.kafka_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
# The project creates its topics with explicit partition counts (schemas/topics.py).
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
log.retention.hours=168
log.segment.bytes=268435456
"""


def kafka_log4j(cfg: Config) -> str:
    return """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.state.change.logger=WARN
"""


def kafka_cluster_id() -> str:
    """A random cluster id as Kafka makes them: URL-safe base64 of a UUID that does not start
    with "-" (the storage tool would read one that does as an option: 1 format in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start_kafka(cfg: Config, java: Path) -> None:
    kdir = cfg.kafka_dir
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    props.write_text(kafka_properties(cfg))
    log4j = kdir / "log4j.properties"
    log4j.write_text(kafka_log4j(cfg))
    classpath = f"{cfg.kafka_libs}/*"
    java_bin = str(java / "bin" / "java")
    common = [f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath]
    if not (kdir / "data" / "meta.properties").exists():
        cluster_id = kafka_cluster_id()
        say(f"formatting Kafka storage (cluster id {cluster_id})")
        result = subprocess.run(
            [
                java_bin,
                *common,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeFailure(f"Kafka storage format failed:\n{result.stdout}{result.stderr}")
    log_path = kdir / "kafka.log"
    heap = [f"-Xms{cfg.kafka_heap}", f"-Xmx{cfg.kafka_heap}"]
    jvm = [*heap, "-XX:+UseG1GC", "-Djava.awt.headless=true", f"-Dcwatch.run={kdir}"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [java_bin, *jvm, *common, "kafka.Kafka", str(props)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (kdir / "kafka.pid").write_text(str(proc.pid))
    say(
        f"Kafka {cfg.kafka_version} starting on {cfg.kafka_bootstrap} (pid {proc.pid}, log {log_path})"
    )


# ---------------------------------------------------------------- Elasticsearch


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


def as_root() -> bool:
    return os.geteuid() == 0


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


# ---------------------------------------------------------------- commands


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


def kafka_component(cfg: Config) -> Component:
    return Component("Kafka", cfg.kafka_dir / "kafka.pid", cfg.kafka_dir)


def es_component(cfg: Config) -> Component:
    return Component("Elasticsearch", cfg.es_dir / "elasticsearch.pid", cfg.es_dir)


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


def cmd_up(cfg: Config) -> None:
    started: list[Component] = []
    try:
        start_and_wait(cfg, started)
    except BaseException as failure:  # Ctrl-C too: never leave half a runtime behind
        if started:
            names = " and ".join(c.name for c in started)
            say(f"start failed ({type(failure).__name__}): stopping the {names} it started")
            for component in reversed(started):
                stop_component(component)
        raise


def start_and_wait(cfg: Config, started: list[Component]) -> None:
    """Start what does not answer yet, recording each in `started` before it starts."""
    started_at = time.monotonic()
    kafka_ok, _ = kafka_healthy(cfg)
    es_ok, _ = es_healthy(cfg)
    kafka_pid = read_pid(cfg.kafka_dir / "kafka.pid")
    es_pid = read_pid(cfg.es_dir / "elasticsearch.pid")
    need_kafka = not kafka_ok and kafka_pid is None
    need_es = not es_ok and es_pid is None
    if kafka_ok:
        say(
            f"Kafka already answers on {cfg.kafka_bootstrap}"
            + ("" if kafka_pid else " (not ours; left alone)")
        )
    if es_ok:
        say(
            f"Elasticsearch already answers on {cfg.es_url}"
            + ("" if es_pid else " (not ours; left alone)")
        )
    if need_kafka or need_es:
        fetch(cfg)
        java, major = pick_jdk(cfg)
        say(f"using Java {major} at {java}")
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        if need_kafka:
            if port_open(cfg.kafka_host, cfg.kafka_port):
                raise RuntimeFailure(
                    f"{cfg.kafka_bootstrap} is taken by something that is not Kafka"
                )
            started.append(kafka_component(cfg))
            start_kafka(cfg, java)
        if need_es:
            if port_open(cfg.es_host, cfg.es_port):
                raise RuntimeFailure(
                    f"{cfg.es_url} is taken by something that is not Elasticsearch"
                )
            started.append(es_component(cfg))
            start_es(cfg, java)
    if not kafka_ok:
        wait_until(lambda: kafka_healthy(cfg), "Kafka", cfg.timeout_s, cfg.kafka_dir / "kafka.log")
    if not es_ok:
        es_log = cfg.es_dir / "logs" / "cwatch-local.log"
        wait_until(lambda: es_healthy(cfg), "Elasticsearch", cfg.timeout_s, es_log)
    create_topics(cfg)
    say(
        f"ready in {time.monotonic() - started_at:.1f}s: Kafka {cfg.kafka_bootstrap}, "
        f"Elasticsearch {es_version_running(cfg)} {cfg.es_url}"
    )


def create_topics(cfg: Config) -> None:
    sys.path.insert(0, str(REPO))
    from schemas.topics import TopicNames
    from services.common.kafka import ensure_topics

    created = ensure_topics(
        cfg.kafka_bootstrap, TopicNames.for_namespace(os.environ.get("CWATCH_NAMESPACE", ""))
    )
    if created:
        say(f"created topics: {', '.join(created)}")


def stop_services(cfg: Config) -> None:
    """The services `make demo` started (their pids are in <run>/services/pids.json)."""
    pid_file = cfg.run_dir / "services" / "pids.json"
    if not pid_file.exists():
        return
    pids = [int(p) for p in json.loads(pid_file.read_text()).values() if pid_alive(int(p))]
    if pids:
        say(f"stopping the demo services (pid {', '.join(map(str, pids))})")
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        stop_pids(pids, "service")
    pid_file.unlink(missing_ok=True)


def cmd_down(cfg: Config) -> None:
    stop_services(cfg)
    for component in (es_component(cfg), kafka_component(cfg)):
        stop_component(component)


def cmd_status(cfg: Config) -> int:
    kafka_ok, kafka_why = kafka_healthy(cfg)
    es_ok, es_why = es_healthy(cfg)
    kafka_pid = read_pid(cfg.kafka_dir / "kafka.pid")
    es_pid = read_pid(cfg.es_dir / "elasticsearch.pid")
    print(
        f"kafka          {cfg.kafka_bootstrap:28} {'UP' if kafka_ok else 'DOWN':5} pid={kafka_pid} {kafka_why}"
    )
    print(f"elasticsearch  {cfg.es_url:28} {'UP' if es_ok else 'DOWN':5} pid={es_pid} {es_why}")
    print(f"run dir        {cfg.run_dir}")
    if cfg.es_dir.parent != cfg.run_dir:
        print(f"es dir         {cfg.es_dir} (the run dir is private to user {ES_USER!r})")
    print(f"cache dir      {cfg.cache_dir}")
    return 0 if kafka_ok and es_ok else 1


def cmd_logs(cfg: Config, lines: int) -> None:
    for path in (cfg.kafka_dir / "kafka.log", cfg.es_dir / "logs" / "cwatch-local.log"):
        print(f"==> {path} <==")
        print(tail(path, lines))


def cmd_env(cfg: Config) -> None:
    print(f"KAFKA_BOOTSTRAP_SERVERS={cfg.kafka_bootstrap}")
    print(f"ELASTICSEARCH_URL={cfg.es_url}")
    print(f"KAFKA_VERSION={cfg.kafka_version}")
    print(f"ELASTICSEARCH_VERSION={cfg.es_version}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="runtime.py",
        description="Run a real local Kafka (KRaft) and Elasticsearch without Docker.",
        epilog=(
            "Environment: KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:19092), ELASTICSEARCH_URL "
            "(http://127.0.0.1:19200), CWATCH_RUN_DIR (<repo>/.run; Elasticsearch's part moves to "
            "/var/tmp/caucasus-watch-<hash> when the run dir is private), CWATCH_CACHE_DIR "
            "(~/.cache/caucasus-watch), CWATCH_JAVA_HOME, CWATCH_ES_HEAP (1g), CWATCH_KAFKA_HEAP "
            "(512m), CWATCH_START_TIMEOUT_S (120)."
        ),
    )
    parser.add_argument("command", choices=["up", "down", "status", "logs", "fetch", "env", "jdk"])
    parser.add_argument("-n", "--lines", type=int, default=60, help="log lines for `logs`")
    args = parser.parse_args(argv)
    cfg = load_config()
    try:
        if args.command == "up":
            cmd_up(cfg)
        elif args.command == "down":
            cmd_down(cfg)
        elif args.command == "status":
            return cmd_status(cfg)
        elif args.command == "logs":
            cmd_logs(cfg, args.lines)
        elif args.command == "fetch":
            fetch(cfg)
        elif args.command == "env":
            cmd_env(cfg)
        elif args.command == "jdk":
            home, major = pick_jdk(cfg)
            print(f"{home} (Java {major})")
    except RuntimeFailure as failure:
        say(f"ERROR: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
