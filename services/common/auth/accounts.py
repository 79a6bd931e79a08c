"""What can be done to accounts, each change written to the audit log: users, tokens,
sessions, logins. Used by the API's account routes and by `cwatch users|tokens`."""

from __future__ import annotations

import getpass
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.auth.attempts import LoginThrottle
from services.common.auth.credentials import (
    CREDENTIAL_ID,
    Kind,
    hash_password,
    issue,
    matches,
    parse,
    verify_password,
)
from services.common.auth.models import USER_NAME, Credential, Principal, User
from services.common.auth.roles import Role, allows
from services.common.auth.store import AccountStore
from services.common.auth.throttle import ACCOUNT, ADDRESS

LOGIN_LINK_HOURS = 24.0
FIRST_ADMIN = "admin"


class AccountError(Exception):
    """A refused account change; `status` is the HTTP answer it maps to."""

    def __init__(self, message: str, status: int = 400, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class NewCredential:
    record: Credential
    text: str  # shown once: only its hash is kept


def cli_actor() -> str:
    """Who runs an operator's command, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit_entry(
    action: str,
    actor: str | None,
    target: str | None = None,
    outcome: str = "ok",
    credential: str | None = None,
    client: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC).isoformat(),
        "action": action,
        "actor": actor,
        "target": target,
        "outcome": outcome,
        "credential": credential,
        "client": client,
        "detail": {k: v for k, v in detail.items() if v is not None} or None,
    }


class Accounts:
    """`throttle`: the login tallies (services/common/auth/attempts.py); None counts nothing
    (operators' commands, which log nobody in)."""

    def __init__(self, store: AccountStore, throttle: LoginThrottle | None = None) -> None:
        self.store = store
        self.throttle = throttle

    def audit(self, action: str, actor: str | None, **kwargs: Any) -> None:
        self.store.audit(audit_entry(action, actor, **kwargs))

    # ---- users ------------------------------------------------------------------------------

    def create_user(
        self, name: str, role: Role, password: str | None, actor: str, **where: Any
    ) -> User:
        try:
            user = User(
                name=name, role=role, password_hash=hash_password(password) if password else None
            )
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if not self.store.create_user(user):
            raise AccountError(f"a user named {name!r} exists", status=409)
        self.audit("user.create", actor, target=name, role=role.value, **where)
        return user

    def found(self, name: str) -> User:
        user = self.store.user(name) if USER_NAME.match(name) else None
        if user is None:
            raise AccountError(f"no user named {name!r}", status=404)
        return user

    def update_user(
        self,
        name: str,
        actor: str,
        role: Role | None = None,
        disabled: bool | None = None,
        **where: Any,
    ) -> User:
        user = self.found(name)
        demoted = (role is not None and role != Role.ADMIN) or disabled
        if user.role == Role.ADMIN and not user.disabled and demoted and self._last_admin(name):
            raise AccountError(f"{name} is the last admin: make another admin first", 409)
        if role is not None:
            user.role = role
        if disabled is not None:
            user.disabled = disabled
        self.store.put_user(user)
        if disabled:
            # Sessions end now; tokens are refused through the disabled user anyway.
            self.store.revoke_all(name, (Kind.SESSION.value,))
        self.audit(
            "user.update",
            actor,
            target=name,
            role=role.value if role else None,
            disabled=disabled,
            **where,
        )
        return user

    def _last_admin(self, name: str) -> bool:
        return not any(
            u.role == Role.ADMIN and not u.disabled and u.name != name for u in self.store.users()
        )

    def set_password(
        self, name: str, password: str, actor: str, current: str | None = None, **where: Any
    ) -> None:
        user = self.found(name)
        if current is not None and user.password_hash:
            # A stolen session must not be a way around the login's throttle.
            self._begin(name, where, "password change")
            if not verify_password(user.password_hash, current):
                self.audit("user.password", actor, target=name, outcome="refused", **where)
                raise AccountError("the current password is wrong", status=403)
            self._succeeded(name, where)
        try:
            user.password_hash = hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        self.store.put_user(user)
        self.audit("user.password", actor, target=name, **where)

    # ---- tokens -----------------------------------------------------------------------------

    def issue(
        self,
        kind: Kind,
        user: str,
        lifetime: timedelta | None,
        label: str = "",
        role: Role | None = None,
    ) -> NewCredential:
        fresh = issue(kind)
        record = Credential(
            id=fresh.id,
            kind=kind,
            user=user,
            digest=fresh.digest,
            label=label[:200],
            role=role,
            expires=datetime.now(UTC) + lifetime if lifetime else None,
        )
        self.store.put_credential(record)
        return NewCredential(record, fresh.text)

    def create_token(
        self,
        user: str,
        actor: str,
        label: str = "",
        days: float | None = 90,
        role: Role | None = None,
        **where: Any,
    ) -> NewCredential:
        owner = self.found(user)
        if role is not None and not allows(owner.role, role):
            raise AccountError(f"{user} is {owner.role.value}: a token cannot grant {role.value}")
        new = self.issue(Kind.TOKEN, user, timedelta(days=days) if days else None, label, role)
        self.audit("token.create", actor, target=user, credential=new.record.id, **where)
        return new

    def revoke(self, cred_id: str, actor: Principal, **where: Any) -> Credential:
        cred = self.store.credential(cred_id) if CREDENTIAL_ID.match(cred_id) else None
        if cred is None or (cred.user != actor.user and not allows(actor.role, Role.ADMIN)):
            raise AccountError(f"no token with id {cred_id!r}", status=404)
        if cred.revoked is None:
            cred.revoked = datetime.now(UTC)
            self.store.put_credential(cred)
        self.audit("token.revoke", actor.user, target=cred.user, credential=cred_id, **where)
        return cred

    # ---- logins -----------------------------------------------------------------------------

    def login_password(
        self, name: str, password: str, session_hours: float, **where: Any
    ) -> NewCredential:
        # The same steps, answers and cost whether or not the user exists: the name as typed is
        # throttled like a real one, and a missing user's password check burns the same time.
        self._begin(name, where, "password")
        user = self.store.user(name) if USER_NAME.match(name) else None
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            self.audit("login", name[:64] or None, outcome="failed", method="password", **where)
            raise AccountError("wrong user name or password", status=401)
        self._succeeded(name, where)
        new = self.issue(Kind.SESSION, user.name, timedelta(hours=session_hours))
        self.audit("login", user.name, credential=new.record.id, method="password", **where)
        return new

    def login_once(self, text: str, session_hours: float, **where: Any) -> NewCredential:
        """A session for the holder of a one-time login, which is used up."""
        self._begin(None, where, "one-time link")  # only its address: a link names no user
        parsed = parse(text)
        cred = self.store.credential(parsed.id) if parsed and parsed.kind == Kind.LOGIN else None
        user = self.store.user(cred.user) if cred else None
        valid = (
            parsed is not None
            and cred is not None
            and cred.kind == Kind.LOGIN
            and matches(parsed, cred.digest)
            and cred.usable(datetime.now(UTC))
            and user is not None
            and not user.disabled
        )
        if not valid or cred is None or user is None or not self.store.take_login(cred.id):
            self.audit("login", None, outcome="failed", method="one-time link", **where)
            raise AccountError("this login link is not valid (used, expired or wrong)", 401)
        self._succeeded(None, where)
        new = self.issue(Kind.SESSION, user.name, timedelta(hours=session_hours))
        self.audit("login", user.name, credential=new.record.id, method="one-time link", **where)
        return new

    def _begin(self, name: str | None, where: dict[str, Any], method: str) -> None:
        """Count a password or link attempt; AccountError 429 while its account or address
        must wait (before any password is checked: a locked account's right password is
        refused too, or the lock would tell a guesser when they got it right)."""
        if self.throttle is None:
            return
        refused = self.throttle.begin(name[:64] if name else None, where.get("client"))
        if refused is None:
            return
        scope, wait_s = refused
        seconds = max(1, math.ceil(wait_s))
        self.audit(
            "login",
            name[:64] if name else None,
            outcome="throttled",
            method=method,
            scope=scope,
            retry_after_s=seconds,
            **where,
        )
        raise AccountError(
            f"too many failed attempts: try again in {seconds} s", 429, retry_after_s=seconds
        )

    def _succeeded(self, name: str | None, where: dict[str, Any]) -> None:
        if self.throttle is not None:
            self.throttle.succeeded(name[:64] if name else None, where.get("client"))

    def unlock(
        self, name: str | None, actor: str, address: str | None = None, **where: Any
    ) -> bool:
        """Let an account (or a client address) try to log in again at once; True if it had
        failed attempts counted."""
        if self.throttle is None:
            raise AccountError("logins are not throttled here", status=409)
        if name is not None:
            self.found(name)
        cleared = False
        for scope, subject in ((ACCOUNT, name), (ADDRESS, address)):
            if subject:
                cleared = self.throttle.unlock(scope, subject) or cleared
        self.audit("login.unlock", actor, target=name, address=address, cleared=cleared, **where)
        return cleared

    def logout(self, principal: Principal, **where: Any) -> None:
        if principal.credential and principal.kind == Kind.SESSION:
            cred = self.store.credential(principal.credential)
            if cred is not None and cred.revoked is None:
                cred.revoked = datetime.now(UTC)
                self.store.put_credential(cred)
        self.audit("logout", principal.user, credential=principal.credential, **where)

    def login_link(self, name: str, actor: str, **where: Any) -> NewCredential:
        self.found(name)
        new = self.issue(Kind.LOGIN, name, timedelta(hours=LOGIN_LINK_HOURS))
        self.audit("login_link.create", actor, target=name, credential=new.record.id, **where)
        return new

    def bootstrap(self, actor: str = "first-start") -> NewCredential | None:
        """On an empty store: the first admin, and a one-time login for it. None when users
        exist (or another instance created the admin a moment ago)."""
        if self.store.has_users():
            return None
        if not self.store.create_user(User(name=FIRST_ADMIN, role=Role.ADMIN)):
            return None
        self.audit("user.create", actor, target=FIRST_ADMIN, role=Role.ADMIN.value)
        return self.login_link(FIRST_ADMIN, actor)
