"""Users, credentials and the audit log in Elasticsearch: `<prefix>-users`,
`<prefix>-credentials`, `<prefix>-audit` (prefix `cwatch` or `<namespace>-cwatch`, like the
alert store), created on first use. Every API instance and the ingestor read the same records
by id (a real-time get), so a change made through one is seen by all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from services.common.auth.models import Credential, User
from services.common.es import ensure_store_index

_KW = {"type": "keyword"}
USERS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "name": _KW,
        "role": _KW,
        "disabled": {"type": "boolean"},
        "created": {"type": "date"},
    },
}
CREDENTIALS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": _KW,
        "kind": _KW,
        "user": _KW,
        "created": {"type": "date"},
        "expires": {"type": "date"},
        "revoked": {"type": "date"},
    },
}
AUDIT_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "at": {"type": "date"},
        "action": _KW,
        "actor": _KW,
        "target": _KW,
        "outcome": _KW,
        "credential": _KW,
        "client": _KW,
    },
}
MAX_LIST = 10_000


class AccountStore:
    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        self.es = es
        self.users_index = f"{prefix}-users"
        self.credentials_index = f"{prefix}-credentials"
        self.audit_index = f"{prefix}-audit"
        self._ensured = False

    def ensure(self) -> None:
        if self._ensured:
            return
        for name, mapping in (
            (self.users_index, USERS_MAPPING),
            (self.credentials_index, CREDENTIALS_MAPPING),
            (self.audit_index, AUDIT_MAPPING),
        ):
            ensure_store_index(self.es, name, mapping)
        self._ensured = True

    # ---- users ------------------------------------------------------------------------------

    def user(self, name: str) -> User | None:
        self.ensure()
        try:
            doc = self.es.get(index=self.users_index, id=name)
        except NotFoundError:
            return None
        return User.model_validate(doc["_source"])

    def create_user(self, user: User) -> bool:
        """False when a user of that name exists (two instances creating the first admin at
        once: exactly one wins)."""
        self.ensure()
        try:
            self.es.create(
                index=self.users_index,
                id=user.name,
                document=user.model_dump(mode="json"),
                refresh=True,
            )
        except ConflictError:
            return False
        return True

    def put_user(self, user: User) -> User:
        self.ensure()
        user.updated = datetime.now(UTC)
        self.es.index(
            index=self.users_index,
            id=user.name,
            document=user.model_dump(mode="json"),
            refresh=True,
        )
        return user

    def users(self) -> list[User]:
        self.ensure()
        resp = self.es.search(
            index=self.users_index, query={"match_all": {}}, sort=[{"name": "asc"}], size=MAX_LIST
        )
        return [User.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    def has_users(self) -> bool:
        self.ensure()
        return bool(self.es.count(index=self.users_index)["count"])

    # ---- credentials ------------------------------------------------------------------------

    def credential(self, cred_id: str) -> Credential | None:
        self.ensure()
        try:
            doc = self.es.get(index=self.credentials_index, id=cred_id)
        except NotFoundError:
            return None
        return Credential.model_validate(doc["_source"])

    def put_credential(self, cred: Credential) -> Credential:
        self.ensure()
        self.es.index(
            index=self.credentials_index,
            id=cred.id,
            document=cred.model_dump(mode="json"),
            refresh=True,
        )
        return cred

    def take_login(self, cred_id: str) -> bool:
        """Consume a one-time login: True for the one caller whose delete removed it."""
        self.ensure()
        try:
            self.es.delete(index=self.credentials_index, id=cred_id, refresh=True)
        except NotFoundError:
            return False
        return True

    def credentials(
        self, user: str | None = None, kinds: tuple[str, ...] = ("cwt",)
    ) -> list[Credential]:
        self.ensure()
        filters: list[dict[str, Any]] = [{"terms": {"kind": list(kinds)}}]
        if user is not None:
            filters.append({"term": {"user": user}})
        resp = self.es.search(
            index=self.credentials_index,
            query={"bool": {"filter": filters}},
            sort=[{"created": "desc"}],
            size=MAX_LIST,
        )
        return [Credential.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    def revoke_all(self, user: str, kinds: tuple[str, ...]) -> int:
        count = 0
        at = datetime.now(UTC)
        for cred in self.credentials(user, kinds):
            if cred.revoked is None:
                cred.revoked = at
                self.put_credential(cred)
                count += 1
        return count

    # ---- audit ------------------------------------------------------------------------------

    def audit(self, entry: dict[str, Any]) -> None:
        self.ensure()
        self.es.index(index=self.audit_index, document=entry, refresh=True)

    def audit_entries(
        self,
        size: int = 100,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
    ) -> list[dict[str, Any]]:
        self.ensure()
        filters = [
            {"term": {field: value}}
            for field, value in (("action", action), ("actor", actor), ("target", target))
            if value
        ]
        resp = self.es.search(
            index=self.audit_index,
            query={"bool": {"filter": filters}},
            sort=[{"at": "desc"}],
            size=max(1, min(size, 1000)),
        )
        return [h["_source"] for h in resp["hits"]["hits"]]
