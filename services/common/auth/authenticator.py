"""Who a presented credential belongs to, asked on every request by the API and the push server.

Records are read by id from the shared store and kept for `ttl_s` (at most a few seconds): a
token revoked, a session logged out or a user disabled through any process is refused by every
other one once its copy is that old. The cache is bounded, and holds misses too, so a flood of
made-up tokens costs the store one read per id per `ttl_s` at most.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from services.common.auth.credentials import Kind, matches, parse
from services.common.auth.models import Credential, Principal, User
from services.common.auth.roles import lower

T = TypeVar("T")
MAX_TTL_S = 5.0


class Reader(Protocol):
    def credential(self, cred_id: str) -> Credential | None: ...

    def user(self, name: str) -> User | None: ...


class TtlCache(Generic[T]):
    def __init__(
        self, ttl_s: float, max_items: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, T | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[str], T | None]) -> T | None:
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        value = load(key)
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class Authenticator:
    def __init__(self, reader: Reader, ttl_s: float = 2.0) -> None:
        if not 0 <= ttl_s <= MAX_TTL_S:
            raise ValueError(f"the credential cache lasts at most {MAX_TTL_S} s")
        self.reader = reader
        self.credentials: TtlCache[Credential] = TtlCache(ttl_s)
        self.users: TtlCache[User] = TtlCache(ttl_s)

    def principal(self, text: str | None, accept: tuple[Kind, ...]) -> Principal | None:
        """The principal of a credential of one of the `accept` kinds, or None when it is
        malformed, unknown, wrong, revoked, expired, or its user is disabled or gone."""
        parsed = parse(text)
        if parsed is None or parsed.kind not in accept:
            return None
        cred = self.credentials.get(parsed.id, self.reader.credential)
        if cred is None or cred.kind != parsed.kind or not matches(parsed, cred.digest):
            return None
        if not cred.usable(datetime.now(UTC)):
            return None
        user = self.users.get(cred.user, self.reader.user)
        if user is None or user.disabled:
            return None
        role = lower(user.role, cred.role) if cred.role else user.role
        return Principal(user=user.name, role=role, credential=cred.id, kind=cred.kind)

    def forget(self, cred_id: str | None = None, user: str | None = None) -> None:
        """Drop this process's copies at once (its own changes need not wait for the TTL)."""
        if cred_id:
            self.credentials.forget(cred_id)
        if user:
            self.users.forget(user)
