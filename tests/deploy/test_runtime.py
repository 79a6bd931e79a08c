"""Pure parts of the local runtime (the package deploy/local/runtime/) that start Kafka and
Elasticsearch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.runtime import cli, config, kafka, processes
from deploy.local.runtime import elasticsearch as es


def test_kafka_cluster_ids_never_start_with_a_dash_the_storage_tool_reads_as_an_option() -> None:
    make = kafka.kafka_cluster_id
    ids = {make() for _ in range(5000)}  # ~78 would start with "-" if drawn plainly
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


# ---------------------------------------------------------------- where Elasticsearch runs


def test_a_run_dir_others_can_traverse_keeps_elasticsearch_inside_it() -> None:
    run_dir = Path("/var/tmp/cwatch-not-created-yet/.run")  # missing folders are created o+x
    assert (
        config.choose_es_dir(run_dir, explicit=False, other_user=True) == run_dir / "elasticsearch"
    )


def test_a_clone_in_a_private_directory_moves_elasticsearch_to_a_world_traversable_dir(
    tmp_path: Path,
) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    run_dir = private / "clone" / ".run"
    chosen = config.choose_es_dir(run_dir, explicit=False, other_user=True)
    assert chosen.parent.parent == Path("/var/tmp")
    assert chosen.parent.name.startswith("caucasus-watch-") and chosen.name == "elasticsearch"
    assert config.others_can_traverse(chosen)
    # Stable for one clone (down finds what up started), distinct for another.
    assert config.choose_es_dir(run_dir, explicit=False, other_user=True) == chosen
    other = config.choose_es_dir(private / "other" / ".run", explicit=False, other_user=True)
    assert other != chosen


def test_an_explicit_run_dir_or_a_non_root_user_keeps_elasticsearch_in_the_run_dir(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o700)
    run_dir = tmp_path / ".run"
    assert (
        config.choose_es_dir(run_dir, explicit=True, other_user=True) == run_dir / "elasticsearch"
    )
    assert (
        config.choose_es_dir(run_dir, explicit=False, other_user=False) == run_dir / "elasticsearch"
    )


def test_load_config_moves_elasticsearch_only_without_cwatch_run_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path.chmod(0o700)
    monkeypatch.setattr(config, "REPO", tmp_path / "clone")
    monkeypatch.setattr(config, "as_root", lambda: True)
    monkeypatch.delenv("CWATCH_RUN_DIR", raising=False)
    assert config.load_config().es_dir.parent.parent == Path("/var/tmp")
    monkeypatch.setenv("CWATCH_RUN_DIR", str(tmp_path / "mine"))
    assert config.load_config().es_dir == tmp_path / "mine" / "elasticsearch"


def _config(run_dir: Path, es_dir: Path) -> object:
    return config.Config(
        kafka_version="3.9.2",
        scala_version="2.13",
        slf4j_version="1.7.36",
        es_version="8.19.21",
        es_sha256="0" * 64,
        cache_dir=run_dir.parent / "cache",
        run_dir=run_dir,
        kafka_host="127.0.0.1",
        kafka_port=1,
        controller_port=2,
        es_url="http://127.0.0.1:3",
        es_host="127.0.0.1",
        es_port=3,
        es_transport_port=4,
        es_heap="1g",
        kafka_heap="512m",
        java_home=None,
        timeout_s=0.05,
        es_dir=es_dir,
    )


def test_a_moved_elasticsearch_dir_is_linked_from_the_run_dir_and_found_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "FALLBACK_BASE", tmp_path / "var-tmp")
    (tmp_path / "var-tmp").mkdir()
    run_dir = tmp_path / "clone" / ".run"
    es_dir = config.fallback_es_dir(run_dir)
    es.prepare_es_dir(_config(run_dir, es_dir))
    assert es_dir.is_dir() and (es_dir.parent.stat().st_mode & 0o777) == 0o755
    assert (run_dir / "elasticsearch").resolve() == es_dir
    # `down` in the same clone follows the link, whatever the permissions say now.
    assert config.choose_es_dir(run_dir, explicit=False, other_user=True) == es_dir


@pytest.mark.parametrize("planted", ["symlink", "world-writable"])
def test_a_planted_fallback_dir_is_refused(
    planted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/var/tmp is open to everyone: root must not start Elasticsearch in a folder someone else
    prepared (a link to elsewhere, or one others can write)."""
    monkeypatch.setattr(config, "FALLBACK_BASE", tmp_path)
    run_dir = tmp_path / "clone" / ".run"
    es_dir = config.fallback_es_dir(run_dir)
    if planted == "symlink":
        (tmp_path / "elsewhere").mkdir()
        es_dir.parent.symlink_to(tmp_path / "elsewhere")
    else:
        es_dir.parent.mkdir()
        es_dir.parent.chmod(0o777)
    with pytest.raises(config.RuntimeFailure, match="not a private directory of ours"):
        es.prepare_es_dir(_config(run_dir, es_dir))
    assert not (tmp_path / "elsewhere" / "elasticsearch").exists()


# ---------------------------------------------------------------- a failed start


class FakeServices:
    """Stands in for the JVMs: records what cmd_up starts and stops, fails where told."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **answers: bool) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.answers = answers
        monkeypatch.setattr(cli, "fetch", lambda cfg: None)
        monkeypatch.setattr(cli, "pick_jdk", lambda cfg: (Path("/jdk"), 21))
        monkeypatch.setattr(cli, "port_open", lambda host, port: False)
        monkeypatch.setattr(cli, "create_topics", lambda cfg: None)
        monkeypatch.setattr(cli, "kafka_healthy", lambda cfg: self._health("kafka"))
        monkeypatch.setattr(cli, "es_healthy", lambda cfg: self._health("es"))
        monkeypatch.setattr(cli, "start_kafka", lambda cfg, java: self._start("kafka"))
        monkeypatch.setattr(cli, "start_es", lambda cfg, java: self._start("es"))
        monkeypatch.setattr(cli, "stop_component", lambda c: self.stopped.append(c.name))

    def _health(self, name: str) -> tuple[bool, str]:
        return self.answers.get(f"{name}_healthy", False), "fake"

    def _start(self, name: str) -> None:
        if self.answers.get(f"{name}_start_fails"):
            raise config.RuntimeFailure(f"{name} did not start")
        self.started.append(name)


def _failed_up(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="did not start|not healthy"):
        cli.cmd_up(_config(tmp_path / ".run", tmp_path / ".run" / "elasticsearch"))


def test_elasticsearch_failing_to_start_stops_the_kafka_this_start_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeServices(monkeypatch, es_start_fails=True)
    _failed_up(tmp_path)
    assert fake.started == ["kafka"]
    assert fake.stopped == ["Elasticsearch", "Kafka"]


def test_a_service_that_never_gets_healthy_stops_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes.time, "sleep", lambda s: None)
    fake = FakeServices(monkeypatch)
    _failed_up(tmp_path)
    assert fake.started == ["kafka", "es"]
    assert sorted(fake.stopped) == ["Elasticsearch", "Kafka"]


def test_a_failed_start_leaves_a_kafka_it_did_not_start_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeServices(monkeypatch, kafka_healthy=True, es_start_fails=True)
    _failed_up(tmp_path)
    assert fake.stopped == ["Elasticsearch"]


def test_stop_component_ends_a_process_tagged_with_its_folder_even_without_a_pid_file(
    tmp_path: Path,
) -> None:
    """What a failed start left has no pid file yet: the -Dcwatch.run tag finds it."""
    folder = tmp_path / "kafka"
    folder.mkdir()
    neighbour = tmp_path / "kafka2"  # a name that merely starts the same is not ours
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours = subprocess.Popen([*sleeper, f"-Dcwatch.run={folder}"])
    theirs = subprocess.Popen([*sleeper, f"-Dcwatch.run={neighbour}"])
    try:
        processes.stop_component(processes.Component("Kafka", folder / "kafka.pid", folder))
        assert ours.wait(timeout=10) is not None
        assert theirs.poll() is None
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()
