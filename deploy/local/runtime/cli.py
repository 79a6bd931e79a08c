"""The runtime's commands: up, down, status, logs, fetch, env, jdk."""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

from .config import ES_USER, Config, RuntimeFailure, load_config, say
from .elasticsearch import es_component, es_healthy, es_version_running, start_es
from .fetch import fetch
from .jdk import pick_jdk
from .kafka import create_topics, kafka_component, kafka_healthy, start_kafka
from .processes import (
    Component,
    pid_alive,
    port_open,
    read_pid,
    stop_component,
    stop_pids,
    tail,
    wait_until,
)


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
        prog="python -m deploy.local.runtime",
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
