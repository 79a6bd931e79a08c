"""The pure parts of accounts: credential formats and hashes, roles, the authenticator's cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.auth.authenticator import Authenticator, TtlCache
from services.common.auth.credentials import (
    Kind,
    digest,
    hash_password,
    issue,
    parse,
    verify_password,
)
from services.common.auth.local import check_local_mode
from services.common.auth.models import Credential, User
from services.common.auth.roles import Role, allows, lower


def test_an_issued_credential_parses_back_and_only_its_hash_is_kept() -> None:
    made = issue(Kind.TOKEN)
    parsed = parse(made.text)
    assert parsed is not None and parsed.kind is Kind.TOKEN and parsed.id == made.id
    assert made.digest == digest(parsed.secret) and parsed.secret not in made.digest


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Bearer x",
        "cwt_",
        "cwx_0123456789ab_" + "a" * 43,
        "cwt_0123_" + "a" * 43,
        "cwt_0123456789ab_" + "a" * 500,
        "cwt_0123456789ab_aa\x00" + "a" * 40,
    ],
)
def test_anything_else_is_not_a_credential(text: str | None) -> None:
    assert parse(text) is None


def test_passwords_are_argon2_and_checked() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "anything at all")
    with pytest.raises(ValueError):
        hash_password("short")


def test_roles_are_ordered_and_a_token_never_grants_more_than_its_user() -> None:
    assert allows(Role.ADMIN, Role.VIEWER) and allows(Role.EDITOR, Role.EDITOR)
    assert not allows(Role.VIEWER, Role.EDITOR)
    assert lower(Role.ADMIN, Role.VIEWER) is Role.VIEWER


class FakeStore:
    def __init__(self) -> None:
        self.creds: dict[str, Credential] = {}
        self.users: dict[str, User] = {}
        self.reads = 0

    def credential(self, cred_id: str) -> Credential | None:
        self.reads += 1
        return self.creds.get(cred_id)

    def user(self, name: str) -> User | None:
        return self.users.get(name)


def _token(store: FakeStore, **extra: object) -> str:
    """A token of ann, an editor; `extra` goes to the credential record."""
    made = issue(Kind.TOKEN)
    store.users.setdefault("ann", User(name="ann", role=Role.EDITOR))
    store.creds[made.id] = Credential(
        id=made.id, kind=Kind.TOKEN, user="ann", digest=made.digest, **extra
    )
    return made.text


def test_the_authenticator_refuses_wrong_revoked_expired_and_disabled() -> None:
    store = FakeStore()
    auth = Authenticator(store, ttl_s=0)
    good = _token(store)
    principal = auth.principal(good, (Kind.TOKEN,))
    assert principal is not None and principal.user == "ann" and principal.role is Role.EDITOR
    assert auth.principal(good, (Kind.SESSION,)) is None  # a token is not a session cookie
    assert auth.principal(good[:-2] + "xx", (Kind.TOKEN,)) is None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert auth.principal(_token(store, expires=past), (Kind.TOKEN,)) is None
    assert auth.principal(_token(store, revoked=past), (Kind.TOKEN,)) is None
    restricted = _token(store, role=Role.VIEWER)
    assert auth.principal(restricted, (Kind.TOKEN,)).role is Role.VIEWER  # type: ignore[union-attr]
    store.users["ann"].disabled = True
    assert auth.principal(good, (Kind.TOKEN,)) is None


def test_the_cache_holds_a_record_for_its_ttl_only() -> None:
    now = [0.0]
    cache: TtlCache[str] = TtlCache(2.0, max_items=2, clock=lambda: now[0])
    loads: list[str] = []

    def load(key: str) -> str:
        loads.append(key)
        return key.upper()

    assert cache.get("a", load) == "A" and cache.get("a", load) == "A" and loads == ["a"]
    now[0] = 2.5
    cache.get("a", load)
    assert loads == ["a", "a"]
    cache.get("b", load), cache.get("c", load)  # bounded: "a" is evicted
    cache.get("a", load)
    assert loads[-1] == "a" and len(loads) == 5
    with pytest.raises(ValueError):
        Authenticator(FakeStore(), ttl_s=30)


def test_without_accounts_only_loopback_is_allowed() -> None:
    check_local_mode("127.0.0.1", auth_on=False)
    check_local_mode("::1", auth_on=False)
    check_local_mode("0.0.0.0", auth_on=True)
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"):
        with pytest.raises(SystemExit):
            check_local_mode(host, auth_on=False)
