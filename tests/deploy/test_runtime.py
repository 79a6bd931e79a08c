"""Pure parts of the local runtime (deploy/local/runtime.py) that start Kafka and Elasticsearch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "deploy" / "local" / "runtime.py"


def _runtime() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cwatch_runtime", RUNTIME)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cwatch_runtime", module)
    spec.loader.exec_module(module)
    return module


def test_kafka_cluster_ids_never_start_with_a_dash_the_storage_tool_reads_as_an_option() -> None:
    make = _runtime().kafka_cluster_id
    ids = {make() for _ in range(5000)}  # ~78 would start with "-" if drawn plainly
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


# ---------------------------------------------------------------- where Elasticsearch runs


def test_a_run_dir_others_can_traverse_keeps_elasticsearch_inside_it() -> None:
    rt = _runtime()
    run_dir = Path("/var/tmp/cwatch-not-created-yet/.run")  # missing folders are created o+x
    assert rt.choose_es_dir(run_dir, explicit=False, other_user=True) == run_dir / "elasticsearch"


def test_a_clone_in_a_private_directory_moves_elasticsearch_to_a_world_traversable_dir(
    tmp_path: Path,
) -> None:
    rt = _runtime()
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    run_dir = private / "clone" / ".run"
    chosen = rt.choose_es_dir(run_dir, explicit=False, other_user=True)
    assert chosen.parent.parent == Path("/var/tmp")
    assert chosen.parent.name.startswith("caucasus-watch-") and chosen.name == "elasticsearch"
    assert rt.others_can_traverse(chosen)
    # Stable for one clone (down finds what up started), distinct for another.
    assert rt.choose_es_dir(run_dir, explicit=False, other_user=True) == chosen
    other = rt.choose_es_dir(private / "other" / ".run", explicit=False, other_user=True)
    assert other != chosen


def test_an_explicit_run_dir_or_a_non_root_user_keeps_elasticsearch_in_the_run_dir(
    tmp_path: Path,
) -> None:
    rt = _runtime()
    tmp_path.chmod(0o700)
    run_dir = tmp_path / ".run"
    assert rt.choose_es_dir(run_dir, explicit=True, other_user=True) == run_dir / "elasticsearch"
    assert rt.choose_es_dir(run_dir, explicit=False, other_user=False) == run_dir / "elasticsearch"


def test_load_config_moves_elasticsearch_only_without_cwatch_run_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime()
    tmp_path.chmod(0o700)
    monkeypatch.setattr(rt, "REPO", tmp_path / "clone")
    monkeypatch.setattr(rt, "as_root", lambda: True)
    monkeypatch.delenv("CWATCH_RUN_DIR", raising=False)
    assert rt.load_config().es_dir.parent.parent == Path("/var/tmp")
    monkeypatch.setenv("CWATCH_RUN_DIR", str(tmp_path / "mine"))
    assert rt.load_config().es_dir == tmp_path / "mine" / "elasticsearch"


def _config(rt: ModuleType, run_dir: Path, es_dir: Path) -> object:
    return rt.Config(
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
    rt = _runtime()
    monkeypatch.setattr(rt, "FALLBACK_BASE", tmp_path / "var-tmp")
    (tmp_path / "var-tmp").mkdir()
    run_dir = tmp_path / "clone" / ".run"
    es_dir = rt.fallback_es_dir(run_dir)
    rt.prepare_es_dir(_config(rt, run_dir, es_dir))
    assert es_dir.is_dir() and (es_dir.parent.stat().st_mode & 0o777) == 0o755
    assert (run_dir / "elasticsearch").resolve() == es_dir
    # `down` in the same clone follows the link, whatever the permissions say now.
    assert rt.choose_es_dir(run_dir, explicit=False, other_user=True) == es_dir


@pytest.mark.parametrize("planted", ["symlink", "world-writable"])
def test_a_planted_fallback_dir_is_refused(
    planted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/var/tmp is open to everyone: root must not start Elasticsearch in a folder someone else
    prepared (a link to elsewhere, or one others can write)."""
    rt = _runtime()
    monkeypatch.setattr(rt, "FALLBACK_BASE", tmp_path)
    run_dir = tmp_path / "clone" / ".run"
    es_dir = rt.fallback_es_dir(run_dir)
    if planted == "symlink":
        (tmp_path / "elsewhere").mkdir()
        es_dir.parent.symlink_to(tmp_path / "elsewhere")
    else:
        es_dir.parent.mkdir()
        es_dir.parent.chmod(0o777)
    with pytest.raises(rt.RuntimeFailure, match="not a private directory of ours"):
        rt.prepare_es_dir(_config(rt, run_dir, es_dir))
    assert not (tmp_path / "elsewhere" / "elasticsearch").exists()


# ---------------------------------------------------------------- a failed start


class FakeServices:
    """Stands in for the JVMs: records what cmd_up starts and stops, fails where told."""

    def __init__(self, rt: ModuleType, monkeypatch: pytest.MonkeyPatch, **answers: bool) -> None:
        self.rt = rt
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.answers = answers
        monkeypatch.setattr(rt, "fetch", lambda cfg: None)
        monkeypatch.setattr(rt, "pick_jdk", lambda cfg: (Path("/jdk"), 21))
        monkeypatch.setattr(rt, "port_open", lambda host, port: False)
        monkeypatch.setattr(rt, "create_topics", lambda cfg: None)
        monkeypatch.setattr(rt, "kafka_healthy", lambda cfg: self._health("kafka"))
        monkeypatch.setattr(rt, "es_healthy", lambda cfg: self._health("es"))
        monkeypatch.setattr(rt, "start_kafka", lambda cfg, java: self._start("kafka"))
        monkeypatch.setattr(rt, "start_es", lambda cfg, java: self._start("es"))
        monkeypatch.setattr(rt, "stop_component", lambda c: self.stopped.append(c.name))

    def _health(self, name: str) -> tuple[bool, str]:
        return self.answers.get(f"{name}_healthy", False), "fake"

    def _start(self, name: str) -> None:
        if self.answers.get(f"{name}_start_fails"):
            raise self.rt.RuntimeFailure(f"{name} did not start")
        self.started.append(name)


def _failed_up(rt: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="did not start|not healthy"):
        rt.cmd_up(_config(rt, tmp_path / ".run", tmp_path / ".run" / "elasticsearch"))


def test_elasticsearch_failing_to_start_stops_the_kafka_this_start_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime()
    fake = FakeServices(rt, monkeypatch, es_start_fails=True)
    _failed_up(rt, tmp_path)
    assert fake.started == ["kafka"]
    assert fake.stopped == ["Elasticsearch", "Kafka"]


def test_a_service_that_never_gets_healthy_stops_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime()
    monkeypatch.setattr(rt.time, "sleep", lambda s: None)
    fake = FakeServices(rt, monkeypatch)
    _failed_up(rt, tmp_path)
    assert fake.started == ["kafka", "es"]
    assert sorted(fake.stopped) == ["Elasticsearch", "Kafka"]


def test_a_failed_start_leaves_a_kafka_it_did_not_start_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime()
    fake = FakeServices(rt, monkeypatch, kafka_healthy=True, es_start_fails=True)
    _failed_up(rt, tmp_path)
    assert fake.stopped == ["Elasticsearch"]


def test_stop_component_ends_a_process_tagged_with_its_folder_even_without_a_pid_file(
    tmp_path: Path,
) -> None:
    """What a failed start left has no pid file yet: the -Dcwatch.run tag finds it."""
    rt = _runtime()
    folder = tmp_path / "kafka"
    folder.mkdir()
    neighbour = tmp_path / "kafka2"  # a name that merely starts the same is not ours
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours = subprocess.Popen([*sleeper, f"-Dcwatch.run={folder}"])
    theirs = subprocess.Popen([*sleeper, f"-Dcwatch.run={neighbour}"])
    try:
        rt.stop_component(rt.Component("Kafka", folder / "kafka.pid", folder))
        assert ours.wait(timeout=10) is not None
        assert theirs.poll() is None
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()
