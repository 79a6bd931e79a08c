"""Accounts over HTTP: login and logout (the UI's session cookie), one's own password and API
tokens, and for admins the users, everyone's tokens and the audit log (`/v1/auth`, `/v1/users`,
`/v1/tokens`, `/v1/audit`). The rules live in services/common/auth/accounts.py."""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.api.auth import (
    CSRF_COOKIE,
    OPEN,
    Admin,
    Viewer,
    clear_session_cookie,
    client_of,
    set_session_cookie,
)
from services.common.auth.accounts import AccountError, Accounts
from services.common.auth.attempts import Attempts, LoginThrottle
from services.common.auth.authenticator import Authenticator
from services.common.auth.credentials import MAX_CREDENTIAL_CHARS, MAX_PASSWORD_CHARS
from services.common.auth.models import Principal
from services.common.auth.roles import Role, allows
from services.common.auth.store import AccountStore
from services.common.auth.throttle import Policy
from services.search.settings import SearchSettings

router = APIRouter(prefix="/v1", tags=["accounts"])


def make_accounts(es: Elasticsearch, settings: SearchSettings) -> Accounts:
    """The accounts of the API and of `cwatch users|tokens`, with the failed-login throttle."""
    prefix = settings.account_prefix()
    longest = settings.api_login_max_wait_s
    forget_s = max(3600.0, 2 * longest)  # a quiet hour (or two longest waits) starts over

    def policy(free: int) -> Policy:
        return Policy(free=free, base_s=30.0, max_s=longest, forget_s=forget_s)

    throttle = LoginThrottle(
        Attempts(es, prefix),
        account=policy(settings.api_login_failures),
        address=policy(settings.api_login_address_failures),
    )
    return Accounts(AccountStore(es, prefix), throttle)


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def _answer(exc: AccountError) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return HTTPException(status_code=exc.status, detail=str(exc), headers=headers)


STORE_DOWN = HTTPException(
    status_code=503,
    detail="the account store (Elasticsearch) does not answer; try again",
    headers={"Retry-After": "5"},
)


def _forget(request: Request, cred_id: str | None = None, user: str | None = None) -> None:
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is not None:
        authenticator.forget(cred_id, user)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(default="", max_length=64)
    password: str = Field(default="", max_length=MAX_PASSWORD_CHARS)
    link: str = Field(default="", max_length=MAX_CREDENTIAL_CHARS, description="One-time login")


@router.post(
    "/auth/login",
    summary="Log in with a password or a one-time login link; sets the session cookie",
    dependencies=[Depends(OPEN)],  # open: it is how one gets a credential
    responses={
        401: {"description": "Wrong user name or password, or a link not valid"},
        429: {
            "description": "Too many failed logins for this user name or from this address: "
            "wait the seconds of the Retry-After header (the right password is refused too)"
        },
    },
)
def login(
    request: Request, response: Response, body: LoginBody, accounts: AccountsDep
) -> dict[str, Any]:
    settings: SearchSettings = request.app.state.settings
    hours = settings.api_session_hours
    try:
        if body.link:
            new = accounts.login_once(body.link, hours, client=client_of(request))
        else:
            new = accounts.login_password(
                body.username, body.password, hours, client=client_of(request)
            )
    except AccountError as exc:
        raise _answer(exc) from None
    except (ApiError, TransportError):
        raise STORE_DOWN from None  # refused, never let through uncounted
    set_session_cookie(response, new.text, int(hours * 3600), settings.api_behind_tls)
    if not request.cookies.get(CSRF_COOKIE):
        # Readable by the page (not HttpOnly): it sends it back as X-CSRF-Token.
        response.set_cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(24),
            path="/",
            secure=settings.api_behind_tls,
            samesite="strict",
        )
    user = accounts.found(new.record.user)
    return {"user": user.name, "role": user.role.value, "expires": new.record.expires}


@router.post("/auth/logout", summary="End this session")
def logout(
    request: Request, response: Response, principal: Viewer, accounts: AccountsDep
) -> dict[str, Any]:
    accounts.logout(principal, client=client_of(request))
    _forget(request, principal.credential)
    clear_session_cookie(response, request.app.state.settings.api_behind_tls)
    return {"logged_out": True}


@router.get("/auth/me", summary="Who this credential is")
def me(principal: Viewer) -> dict[str, Any]:
    return {
        "user": principal.user,
        "role": principal.role.value,
        "credential": principal.credential,
        "local": principal.local,
    }


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(default="", max_length=MAX_PASSWORD_CHARS)
    new: str = Field(max_length=MAX_PASSWORD_CHARS)


@router.post("/auth/password", summary="Set one's own password (the current one if there is one)")
def password(
    request: Request, body: PasswordBody, principal: Viewer, accounts: AccountsDep
) -> dict[str, Any]:
    try:
        accounts.set_password(
            principal.user,
            body.new,
            principal.user,
            current=body.current,
            client=client_of(request),
        )
    except AccountError as exc:
        raise _answer(exc) from None
    except (ApiError, TransportError):
        raise STORE_DOWN from None  # the current password is never checked uncounted
    return {"changed": True}


# ---- users (admin) ----------------------------------------------------------------------------


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    role: Role = Role.VIEWER
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_CHARS)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None


def _link(request: Request, text: str) -> str:
    settings: SearchSettings = request.app.state.settings
    base = settings.api_public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/ui/#login={text}"


@router.get("/users", summary="Every user, and how long each must wait to log in again")
def users(principal: Admin, accounts: AccountsDep) -> dict[str, Any]:
    found = accounts.store.users()
    waits = accounts.throttle.locked([u.name for u in found]) if accounts.throttle else {}
    return {
        "total": len(found),
        "users": [{**u.public(), "login_wait_s": math.ceil(waits.get(u.name, 0.0))} for u in found],
    }


@router.post("/users", status_code=201, summary="Create a user (a login link if no password)")
def create_user(
    request: Request, body: UserBody, principal: Admin, accounts: AccountsDep
) -> dict[str, Any]:
    where = {"client": client_of(request)}
    try:
        user = accounts.create_user(body.name, body.role, body.password, principal.user, **where)
        result = user.public()
        if not body.password:
            link = accounts.login_link(user.name, principal.user, **where)
            result["login_link"] = _link(request, link.text)  # shown once
    except AccountError as exc:
        raise _answer(exc) from None
    return result


@router.patch("/users/{name}", summary="Change a user's role, or disable / enable it")
def update_user(
    request: Request, name: str, body: UserChange, principal: Admin, accounts: AccountsDep
) -> dict[str, Any]:
    try:
        user = accounts.update_user(
            name, principal.user, body.role, body.disabled, client=client_of(request)
        )
    except AccountError as exc:
        raise _answer(exc) from None
    _forget(request, user=name)
    return user.public()


@router.post("/users/{name}/login-link", summary="A one-time login link for a user (24 h)")
def login_link(
    request: Request, name: str, principal: Admin, accounts: AccountsDep
) -> dict[str, Any]:
    try:
        link = accounts.login_link(name, principal.user, client=client_of(request))
    except AccountError as exc:
        raise _answer(exc) from None
    return {"user": name, "login_link": _link(request, link.text), "expires": link.record.expires}


class UnlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(
        default=None, max_length=64, description="Also let this client address try again"
    )


@router.post(
    "/users/{name}/unlock", summary="Let a user try to log in again now (after failed logins)"
)
def unlock(
    request: Request, name: str, body: UnlockBody, principal: Admin, accounts: AccountsDep
) -> dict[str, Any]:
    try:
        cleared = accounts.unlock(name, principal.user, body.address, client=client_of(request))
    except AccountError as exc:
        raise _answer(exc) from None
    return {"user": name, "address": body.address, "cleared": cleared}


# ---- tokens -----------------------------------------------------------------------------------


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200)
    days: float | None = Field(default=90, gt=0, le=3650, description="null: never expires")
    role: Role | None = Field(default=None, description="Below the user's role, if given")
    user: str | None = Field(default=None, description="Admins only: another user's token")


def _may_act_for(principal: Principal, user: str | None) -> str:
    if user and user != principal.user:
        if not allows(principal.role, Role.ADMIN):
            raise HTTPException(status_code=403, detail="only admins manage others' tokens")
        return user
    return principal.user


@router.get("/tokens", summary="API tokens: one's own (admins: ?user=NAME, or everyone's)")
def tokens(principal: Viewer, accounts: AccountsDep, user: str | None = None) -> dict[str, Any]:
    if allows(principal.role, Role.ADMIN):
        found = accounts.store.credentials(user)
    else:
        found = accounts.store.credentials(_may_act_for(principal, user))
    return {"total": len(found), "tokens": [c.public() for c in found]}


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(
    request: Request, body: TokenBody, principal: Viewer, accounts: AccountsDep
) -> dict[str, Any]:
    owner = _may_act_for(principal, body.user)
    try:
        new = accounts.create_token(
            owner, principal.user, body.label, body.days, body.role, client=client_of(request)
        )
    except AccountError as exc:
        raise _answer(exc) from None
    return {**new.record.public(), "token": new.text}


@router.delete("/tokens/{token_id}", summary="Revoke an API token (refused within seconds)")
def revoke_token(
    request: Request, token_id: str, principal: Viewer, accounts: AccountsDep
) -> dict[str, Any]:
    try:
        cred = accounts.revoke(token_id, principal, client=client_of(request))
    except AccountError as exc:
        raise _answer(exc) from None
    _forget(request, cred.id)
    return cred.public()


# ---- audit (admin) ----------------------------------------------------------------------------


@router.get("/audit", summary="The audit log: logins, failed logins, account and admin changes")
def audit(
    principal: Admin,
    accounts: AccountsDep,
    size: int = 100,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    entries = accounts.store.audit_entries(size, action, actor, target)
    return {"total": len(entries), "entries": entries}
