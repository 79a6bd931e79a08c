"""Reference tables for the README: the topics, every setting (env var) and every Prometheus
metric.

`python -m devtools.reference` prints them; tests/deploy/test_readme.py keeps the README
in step with the code.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

from prometheus_client.metrics import MetricWrapperBase
from pydantic_settings import BaseSettings

import services
from schemas.topics import topic_table


def _modules(suffix: str) -> Iterator[tuple[str, object]]:
    for info in sorted(pkgutil.walk_packages(services.__path__, "services."), key=lambda i: i.name):
        if info.name.endswith(suffix):
            yield info.name.split(".")[1], importlib.import_module(info.name)


def metrics() -> list[tuple[str, str, str, str]]:
    """(service, name, type, help) of every metric declared in a services/*/metrics.py."""
    rows = []
    for service, module in _modules(".metrics"):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                kind = str(value._type)
                name = str(value._name) + ("_total" if kind == "counter" else "")
                rows.append((service, name, kind, str(value._documentation or "")))
    return sorted(set(rows))


def settings() -> list[tuple[str, str, str, str]]:
    """(service, env var, default, description) of every settings object's fields."""
    from services.common.settings import CommonSettings

    rows = []
    for service, module in _modules(".settings"):
        for value in vars(module).values():
            if not (
                isinstance(value, type) and issubclass(value, BaseSettings)
            ) or value.__module__ != getattr(module, "__name__", ""):
                continue
            prefix = value.model_config.get("env_prefix", "")
            for field_name, field in value.model_fields.items():
                if value is not CommonSettings and field_name in CommonSettings.model_fields:
                    continue  # listed once, under "common"
                alias = field.validation_alias
                choices = getattr(alias, "choices", [])
                env = (
                    " / ".join(str(c) for c in choices)
                    if choices
                    else f"{prefix}{field_name}".upper()
                )
                default = (
                    ""
                    if field.is_required()
                    else repr(field.get_default(call_default_factory=True))
                )
                rows.append((service, env, default, field.description or ""))
    return rows


def main() -> None:
    print(topic_table() + "\n")
    print("| service | metric | type | meaning |\n|---|---|---|---|")
    for row in metrics():
        print("| " + " | ".join(f"`{c}`" if i == 1 else c for i, c in enumerate(row)) + " |")
    print("\n| service | variable | default | meaning |\n|---|---|---|---|")
    seen = set()
    for service, env, default, description in settings():
        if env in seen:
            continue
        seen.add(env)
        print(f"| {service} | `{env}` | `{default}` | {description} |")


if __name__ == "__main__":
    main()
