from __future__ import annotations

from services.common.settings import CommonSettings


class OpsSettings(CommonSettings):
    """Operations commands (topics, dead letters) need only the shared connection settings."""
