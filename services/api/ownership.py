"""Who may act on a user's thing (a subscription, a saved search, a feed): its owner, or an
admin. Another user's thing answers 404 exactly like a missing one (its existence is not
told); an admin acting on someone else's is written to the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from services.api.auth import client_of
from services.common.auth.accounts import AccountError, Accounts
from services.common.auth.models import Principal
from services.common.auth.roles import Role, allows


def owns(principal: Principal, owner: str | None) -> bool:
    return owner == principal.user or allows(principal.role, Role.ADMIN)


def owner_filter(principal: Principal) -> str | None:
    """The owner a listing is limited to: the caller's own, or None (everyone's) for admins."""
    return None if allows(principal.role, Role.ADMIN) else principal.user


def audit_admin(
    request: Request, principal: Principal, action: str, owner: str | None, **what: Any
) -> None:
    """`action` by an admin on someone else's thing goes to the audit log (`what` names it)."""
    if principal.local or owner == principal.user:
        return
    accounts: Accounts = request.app.state.accounts
    accounts.audit(
        action,
        principal.user,
        target=owner,
        credential=principal.credential,
        client=client_of(request),
        **what,
    )


def owner_active(request: Request, owner: str | None) -> bool:
    """Whether things of `owner` may still act for them (a feed answering): False once the
    user is disabled or gone. Owner-less things (made before accounts) and the local mode
    without accounts have nobody to check."""
    if owner is None or request.app.state.authenticator is None:
        return True
    accounts: Accounts = request.app.state.accounts
    try:
        return not accounts.found(owner).disabled
    except AccountError:
        return False
