"""Settings shared by every service; each service subclasses `CommonSettings` once.

Every variable has the `CWATCH_` prefix. The connection settings also accept the names
users already know (`KAFKA_BOOTSTRAP_SERVERS`, `ELASTICSEARCH_URL`), which the local runtime
and docker-compose.yml use too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import TopicNames, index_alias

ENV_PREFIX = "CWATCH_"


def comma_list(value: Any) -> Any:
    """A list setting from the environment: `a,b` or a JSON list (`["a","b"]`) both work
    (fields annotated `NoDecode`, validated `mode="before"` with this)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("CWATCH_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma separated",
    )
    elasticsearch_url: str = Field(
        default="http://127.0.0.1:19200",
        validation_alias=AliasChoices("CWATCH_ELASTICSEARCH_URL", "ELASTICSEARCH_URL"),
        description="Elasticsearch base URL",
    )
    namespace: str = Field(
        default="",
        description="Prefix for topics and indices, to run several deployments on one cluster",
    )
    log_level: str = Field(default="INFO", description="Python log level")
    log_json: bool = Field(default=True, description="Structured JSON logs on stderr")
    metrics_port: int = Field(default=0, description="Prometheus /metrics port; 0 = disabled")
    metrics_host: str = Field(default="127.0.0.1", description="Address /metrics listens on")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (base64) sealing webhook secrets in Elasticsearch; unset: "
        "read from CWATCH_SECRET_KEY_FILE",
    )
    secret_key_file: Path = Field(
        default=Path(".run/secret.key"),
        description="File holding that key, created (0600) when missing; every process that "
        "reads or writes subscriptions needs the same one",
    )
    group_instance_id: str = Field(
        default="",
        description="Static consumer-group membership: this process's stable name in its groups, "
        "unique per group (e.g. a pod name). Empty: <host>-<n>, n the lowest slot free on this "
        "host; 'none': dynamic membership",
    )

    ES_RETRIES: ClassVar[int] = 1
    """How many times the Elasticsearch client resends a request that failed on a connection
    error or a 429/502/503/504 answer (services/common/es.py); each service says why its own
    value, next to its Elasticsearch timeout."""

    CONSUMER_GROUPS: ClassVar[tuple[str, ...]] = ()
    """Consumer-group fields of a service. One left at its default gets the namespace as prefix
    (as the extractor's faust app id does), so two deployments on one Kafka do not share a group
    and its rebalances; a group set explicitly is used as given."""

    @model_validator(mode="after")
    def _groups_in_namespace(self) -> Self:
        if not self.namespace:
            return self
        for name in self.CONSUMER_GROUPS:
            default = type(self).model_fields[name].default
            if getattr(self, name) == default:
                setattr(self, name, f"{self.namespace}-{default}")
        return self

    @property
    def es_timeout_s(self) -> float:
        """Client-side cap on one Elasticsearch request; each service maps its own setting."""
        return 10.0

    @property
    def topics(self) -> TopicNames:
        return TopicNames.for_namespace(self.namespace)

    @property
    def index_alias(self) -> str:
        return index_alias(self.namespace)


class AuthSettings(CommonSettings):
    """Accounts on the HTTP faces (the API and the ingestor's push server), which share them."""

    api_auth: Literal["on", "off"] = Field(
        default="on",
        description="'off': no accounts, every request acts as a local admin; refused unless "
        "the server listens on a loopback address (one person on their own machine)",
    )
    auth_cache_s: float = Field(
        default=2.0,
        ge=0,
        le=5,
        description="A credential check is reused this long: a revoked token, ended session or "
        "disabled user is refused by every process after at most this long",
    )

    @property
    def auth_on(self) -> bool:
        return self.api_auth == "on"

    def account_prefix(self) -> str:
        return f"{self.namespace}-cwatch" if self.namespace else "cwatch"
