"""How many password guesses a login may cost, pure: exponential backoff per key.

Argon2 makes each guess slow; this bounds how many there are. A key is an account name (as
typed: a name no user has is counted exactly like a real one, so the answers never tell them
apart) or a client address. Each key may fail `free` times; after that the next attempt waits
`base_s`, then twice as long after each further failure, at most `max_s`. A key with no attempt
for `forget_s` starts over; a successful login clears its account's tally.

An attempt is counted when it begins, before the password is checked (`counted`), and only if
its key is not waiting: so concurrent guesses cannot slip through between a check and a
failure's record, and attempts refused while waiting do not prolong the wait (a user retrying
after a lockout waits once, not ever longer). A success gives its address's attempt back
(`refunded`): colleagues behind one address do not use up each other's attempts by logging in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Policy:
    free: int = 5
    base_s: float = 30.0
    max_s: float = 900.0
    forget_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.free < 1 or self.base_s <= 0 or self.max_s < self.base_s:
            raise ValueError("a throttle allows at least one failure and waits 0 < base <= max")
        if self.forget_s <= self.max_s:
            raise ValueError("failures are forgotten only after the longest wait")

    def wait_s(self, failures: int) -> float:
        """The wait after `failures` counted attempts (0 while some are still free)."""
        if failures < self.free:
            return 0.0
        # Capped before the power: an attacker's thousandth failure must not overflow.
        doublings = min(failures - self.free, 32)
        return float(min(self.max_s, self.base_s * 2**doublings))


@dataclass(frozen=True)
class Tally:
    """Attempts counted for one key, and when the last was (epoch seconds)."""

    failures: int = 0
    last: float = 0.0


def current(tally: Tally, policy: Policy, now: float) -> Tally:
    """The tally as it stands at `now`: empty once forgotten."""
    return Tally() if now - tally.last >= policy.forget_s else tally


def retry_after(tally: Tally, policy: Policy, now: float) -> float:
    """Seconds until the key may try again; 0: it may now."""
    tally = current(tally, policy, now)
    return max(0.0, tally.last + policy.wait_s(tally.failures) - now) if tally.failures else 0.0


def counted(tally: Tally, policy: Policy, now: float) -> Tally:
    """The tally once an attempt begins (counted as failed until it succeeds)."""
    return Tally(current(tally, policy, now).failures + 1, now)


def refunded(tally: Tally) -> Tally:
    """The tally once an attempt counted against it succeeded."""
    return Tally(max(0, tally.failures - 1), tally.last)


def key_id(scope: str, subject: str) -> str:
    """The stored id of a key: hashed, so what someone typed as a user name (at times their
    password) is never an id in the store, and any length fits."""
    return hashlib.sha256(f"{scope}\x00{subject}".encode()).hexdigest()[:40]
