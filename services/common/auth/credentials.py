"""Credential formats and hashes, pure.

A credential is `<kind>_<id>_<secret>`: `cwt` an API token, `cws` a browser session, `cwl` a
one-time login. The id (12 hex characters) is the record's key and may be shown and logged; the
secret (256 random bits) is shown once and only its SHA-256 is stored. A slow hash is not needed
for 256-bit secrets (nobody can guess one), and a fast one keeps every request cheap; passwords,
which people choose, get argon2 instead (`hash_password`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_CREDENTIAL_CHARS = 200
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a bound keeps one request cheap
MIN_PASSWORD_CHARS = 10


class Kind(StrEnum):
    TOKEN = "cwt"
    SESSION = "cws"
    LOGIN = "cwl"


CREDENTIAL_ID = re.compile(r"^[0-9a-f]{12}$")
_FORMAT = re.compile(r"^(cwt|cws|cwl)_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Parsed:
    kind: Kind
    id: str
    secret: str


@dataclass(frozen=True)
class Issued:
    """A new credential: `text` is given to its holder once, `digest` is what is stored."""

    kind: Kind
    id: str
    text: str
    digest: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(kind: Kind) -> Issued:
    cred_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return Issued(kind, cred_id, f"{kind.value}_{cred_id}_{secret}", digest(secret))


def parse(text: str | None) -> Parsed | None:
    """The parts of a credential, or None for anything that is not one (never raises)."""
    if not text or len(text) > MAX_CREDENTIAL_CHARS:
        return None
    match = _FORMAT.match(text.strip())
    if match is None:
        return None
    return Parsed(Kind(match.group(1)), match.group(2), match.group(3))


def matches(parsed: Parsed, stored_digest: str) -> bool:
    """Constant-time comparison of the presented secret with the stored digest."""
    return hmac.compare_digest(digest(parsed.secret), stored_digest)


_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _HASHER.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not password or len(password) > MAX_PASSWORD_CHARS:
        _burn()  # the same work as a real check: a missing user is not told apart by timing
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("not the password of anyone")


def _burn() -> None:
    try:
        _HASHER.verify(_dummy_hash(), "a wrong password")
    except VerificationError:
        pass
