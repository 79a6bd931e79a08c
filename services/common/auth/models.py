"""Account records as stored, and the principal a request acts as."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from services.common.auth.credentials import Kind
from services.common.auth.roles import Role

USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def now() -> datetime:
    return datetime.now(UTC)


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise ValueError(
            "a user name is 1-64 characters: lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


class User(BaseModel):
    name: str
    role: Role = Role.VIEWER
    password_hash: str | None = None
    disabled: bool = False
    created: datetime = Field(default_factory=now)
    updated: datetime = Field(default_factory=now)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_user_name(value)

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "disabled": self.disabled,
            "has_password": bool(self.password_hash),
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }


class Credential(BaseModel):
    """An API token, a browser session or a one-time login of one user (only its hash)."""

    id: str
    kind: Kind
    user: str
    digest: str
    label: str = ""
    role: Role | None = None  # a token may be restricted below its user's role
    created: datetime = Field(default_factory=now)
    expires: datetime | None = None
    revoked: datetime | None = None

    def usable(self, at: datetime) -> bool:
        return self.revoked is None and (self.expires is None or at < self.expires)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": {"cwt": "token", "cws": "session", "cwl": "login"}[self.kind.value],
            "user": self.user,
            "label": self.label,
            "role": self.role.value if self.role else None,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


@dataclass(frozen=True)
class Principal:
    """Who a request acts as. `credential` is the token or session id (for provenance and
    audit); `local` marks the explicit no-accounts mode."""

    user: str
    role: Role
    credential: str | None = None
    kind: Kind | None = None
    local: bool = False


LOCAL = Principal(user="local", role=Role.ADMIN, local=True)
