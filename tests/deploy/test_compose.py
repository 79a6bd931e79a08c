"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import yaml
from pydantic_settings import BaseSettings

import services
from services.common.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
PROJECT_SERVICES = ("ingestor", "extractor", "indexer", "alerts", "api")


def pinned_versions() -> dict[str, str]:
    pairs = {}
    for line in (REPO / "deploy/local/versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def settings_env_names() -> set[str]:
    """Every env var any service's settings object reads (prefix + field name, plus aliases)."""
    classes: set[type[BaseSettings]] = {CommonSettings}
    for module_info in pkgutil.walk_packages(services.__path__, "services."):
        if module_info.name.endswith(".settings"):
            module = importlib.import_module(module_info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseSettings)
                    and value is not BaseSettings
                ):
                    classes.add(value)
    names: set[str] = set()
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for field_name, field in cls.model_fields.items():
            names.add(f"{prefix}{field_name}".upper())
            alias = field.validation_alias
            choices = getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
            names.update(str(choice).upper() for choice in choices if isinstance(choice, str))
    return names


def test_compose_runs_kafka_elasticsearch_and_every_service() -> None:
    assert {"kafka", "elasticsearch", *PROJECT_SERVICES} <= set(COMPOSE["services"])


def test_compose_images_are_the_pinned_local_versions() -> None:
    versions = pinned_versions()
    services_ = COMPOSE["services"]
    assert services_["kafka"]["image"].endswith(f":{versions['KAFKA_VERSION']}")
    assert services_["elasticsearch"]["image"].endswith(f":{versions['ELASTICSEARCH_VERSION']}")


def test_project_services_wait_for_healthy_kafka_and_elasticsearch_and_share_one_image() -> None:
    for name in PROJECT_SERVICES:
        service = COMPOSE["services"][name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    for infra in ("kafka", "elasticsearch"):
        assert "healthcheck" in COMPOSE["services"][infra]


def test_compose_env_var_names_are_the_settings_names() -> None:
    known = settings_env_names()
    for name in PROJECT_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name}: env vars no settings object reads: {sorted(unknown)}"


def test_the_dockerfile_referenced_by_compose_exists() -> None:
    assert (REPO / "deploy/Dockerfile").is_file()


def test_grafana_has_no_anonymous_admin_and_no_default_password() -> None:
    grafana = COMPOSE["services"]["grafana"]
    env = grafana["environment"]
    anonymous = str(env.get("GF_AUTH_ANONYMOUS_ENABLED", "false")).lower()
    if anonymous == "true":  # allowed only as a viewer
        assert env.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer"
    assert env.get("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer") == "Viewer"
    password = str(env.get("GF_SECURITY_ADMIN_PASSWORD", ""))
    # From the environment, required: `${VAR:?message}` or `${VAR?message}`, never a default.
    assert re.fullmatch(r"\$\{[A-Z_]+:?\?[^}]*\}", password), password
    assert str(env.get("GF_SECURITY_ADMIN_USER", "admin")) != "admin"


def test_grafana_is_a_pinned_current_release() -> None:
    image = COMPOSE["services"]["grafana"]["image"]
    match = re.fullmatch(r"grafana/grafana:(\d+)\.(\d+)\.(\d+)", image)
    assert match, f"pin an exact release, not {image}"
    assert int(match.group(1)) >= 13, f"{image}: 11.x and older are out of support"


def _published(service: dict) -> list[str]:  # type: ignore[type-arg]
    return [str(p) for p in service.get("ports", [])]


def test_kafka_and_elasticsearch_are_not_published_outside_the_compose_network() -> None:
    for name in ("kafka", "elasticsearch"):
        assert not _published(COMPOSE["services"][name]), name


def test_every_published_port_is_bound_to_loopback_only() -> None:
    override = yaml.safe_load((REPO / "deploy/compose.host-ports.yml").read_text())
    for services_ in (COMPOSE["services"], override["services"]):
        for name, service in services_.items():
            for port in _published(service):
                assert port.startswith("127.0.0.1:"), (name, port)
    kafka = override["services"]["kafka"]["environment"]
    assert "HOST://127.0.0.1:19092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
