"""Roles, ordered: each one may do everything the roles below it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # search, live feed, reports, their own subscriptions and tokens
    EDITOR = "editor"  # also push articles and manage sources
    ADMIN = "admin"  # also users, everyone's tokens and subscriptions, dead letters, audit

    @property
    def rank(self) -> int:
        return ORDER.index(self)


ORDER = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


def allows(have: Role, need: Role) -> bool:
    """Whether a principal of role `have` may do what needs `need`."""
    return have.rank >= need.rank


def lower(a: Role, b: Role) -> Role:
    """The weaker of two roles: a token never grants more than its user has."""
    return a if a.rank <= b.rank else b
