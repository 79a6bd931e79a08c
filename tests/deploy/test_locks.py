"""Reproducible installs: every install comes from a hash-checked lock that covers pyproject.toml.

A fresh install used to pick whatever was released that morning (no lock, every bound `>=`)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (version, number of hashes) for each pin of a `--generate-hashes` lock file."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What the requested extras add (kafka-python[crc32c,lz4] -> crc32c, lz4), read from the
    installed distribution's metadata."""
    found = []
    for text in importlib.metadata.requires(requirement.name) or []:
        extra_req = Requirement(text)
        marker = extra_req.marker
        if marker and any(
            marker.evaluate({"extra": extra}) and not marker.evaluate({"extra": ""})
            for extra in requirement.extras
        ):
            extra_req.marker = None
            found.append(extra_req)
    return found


def assert_covered(requirements: list[str], lock: Path) -> None:
    pins = locked(lock)
    missing, outside = [], []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        for req in [requirement, *extra_requirements(requirement)]:
            if req.marker and not Marker(str(req.marker)).evaluate({"extra": ""}):
                continue
            pin = pins.get(canonicalize_name(req.name))
            if pin is None:
                missing.append(req.name)
            elif not req.specifier.contains(pin[0], prereleases=True):
                outside.append(f"{req.name}=={pin[0]} (pyproject: {req.specifier})")
    assert not missing, f"{lock.name} lacks {missing}: run `make lock`"
    assert not outside, f"{lock.name} pins outside pyproject's bounds: {outside}; run `make lock`"


def test_the_runtime_lock_covers_every_runtime_and_build_dependency() -> None:
    build = PYPROJECT["build-system"]["requires"]
    assert_covered([*PYPROJECT["project"]["dependencies"], *build], LOCK)


def test_the_dev_lock_covers_every_runtime_dev_and_build_dependency() -> None:
    project = PYPROJECT["project"]
    build = PYPROJECT["build-system"]["requires"]
    assert_covered(
        [*project["dependencies"], *project["optional-dependencies"]["dev"], *build], DEV_LOCK
    )


def test_every_locked_version_carries_hashes_and_both_locks_agree() -> None:
    runtime, dev = locked(LOCK), locked(DEV_LOCK)
    assert runtime and dev
    unhashed = [name for name, (_, hashes) in {**runtime, **dev}.items() if hashes == 0]
    assert not unhashed, f"pins without --hash: {unhashed}"
    differ = [name for name in runtime if runtime[name][0] != dev.get(name, (None,))[0]]
    assert not differ, f"the runtime and dev locks pin different versions of {differ}"


def test_the_installed_environment_is_the_locked_one() -> None:
    """The tests ran against what the lock ships, not against whatever this venv drifted to."""
    drifted = []
    for name, (version, _) in locked(DEV_LOCK).items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            drifted.append(f"{name} (locked {version}, not installed)")
            continue
        if installed != version:
            drifted.append(f"{name} (locked {version}, installed {installed})")
    assert not drifted, f"the venv is not the lock: {drifted}; run `make venv`"


def test_bounds_keep_out_releases_with_known_advisories_and_unknown_client_releases() -> None:
    deps = {
        canonicalize_name(Requirement(t).name): Requirement(t).specifier
        for t in PYPROJECT["project"]["dependencies"]
    }
    for name, bad in {
        "starlette": "0.39.2",
        "h11": "0.14.0",
        "urllib3": "2.2.3",
        "aiohttp": "3.10.11",
        "idna": "3.6",
    }.items():
        assert not deps[name].contains(bad), f"{name} {bad} has a known advisory"
    for name, future in {
        "faust-streaming": "0.16.0",
        "kafka-python": "3.1.0",
        "aiokafka": "0.15.0",
    }.items():
        assert not deps[name].contains(future), f"{name}: bound untested releases ({future})"
    build = [Requirement(t) for t in PYPROJECT["build-system"]["requires"]]
    assert not any(r.name == "setuptools" and r.specifier.contains("78.1.0") for r in build)


def test_make_and_the_dockerfile_install_only_from_the_locks() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "pip install -q --require-hashes -r $(DEV_LOCK)" in makefile
    assert "DEV_LOCK := requirements-dev.lock" in makefile
    assert re.search(r"pip install -q --no-deps --no-build-isolation -e \.", makefile)
    assert "-e '.[dev]'" not in makefile
    dockerfile = (REPO / "deploy/Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    installs = re.findall(r"pip install[^\n&]*", dockerfile)
    assert all("--require-hashes" in cmd or "--no-deps" in cmd for cmd in installs), installs
    assert "make test" in (REPO / ".ci/run").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_the_venv_is_reinstalled_when_the_lock_changes(tmp_path: Path) -> None:
    """Dry runs (`make -n`) against a stamp in a throwaway folder: nothing is installed."""
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed").touch()  # newer than the checked-out lock

    def dry_run(*args: str) -> str:
        result = subprocess.run(
            ["make", "-n", f"VENV={venv}", *args, "venv"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    assert "pip install" not in dry_run()
    after_lock_change = dry_run("-W", "requirements-dev.lock")
    assert "--require-hashes -r requirements-dev.lock" in after_lock_change
