"""Login attempts counted in Elasticsearch (`<prefix>-logins`), so every API instance applies
one tally: a guesser spreading attempts over instances (or waiting for a restart) gains nothing.

Why not the `limits` library (the API's per-process rate limits): its shared storages are
Redis, Memcached, MongoDB and etcd, none of which this system runs; its memory storage is one
per process. Elasticsearch is the store the accounts already live in. Each key is one small
document changed by compare-and-set (`if_seq_no`), so concurrent attempts on one key are
counted one after the other and exactly `free` of them get through (services/common/auth/
throttle.py has the policy). Old tallies are deleted by `prune`, once per forget time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from services.common.auth.throttle import (
    ACCOUNT,
    ADDRESS,
    Policy,
    Tally,
    counted,
    key_id,
    refunded,
    retry_after,
)
from services.common.es import ensure_store_index

LOGINS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "scope": {"type": "keyword"},
        "subject": {"type": "keyword"},  # addresses only: account names are never stored
        "failures": {"type": "integer"},
        "last": {"type": "double"},
    },
}
CAS_TRIES = 8
log = logging.getLogger(__name__)


class Attempts:
    def __init__(
        self, es: Elasticsearch, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.es = es
        self.index = f"{prefix}-logins"
        self.clock = clock
        self._ensured = False

    def ensure(self) -> None:
        if not self._ensured:
            ensure_store_index(self.es, self.index, LOGINS_MAPPING)
            self._ensured = True

    def _read(self, doc_id: str) -> tuple[Tally, dict[str, Any] | None]:
        try:
            doc = self.es.get(index=self.index, id=doc_id)
        except NotFoundError:
            return Tally(), None
        source = doc["_source"]
        version = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
        return Tally(int(source.get("failures", 0)), float(source.get("last", 0.0))), version

    def _write(
        self, scope: str, subject: str, doc_id: str, tally: Tally, version: dict[str, Any] | None
    ) -> None:
        document = {
            "scope": scope,
            "subject": subject if scope == ADDRESS else None,
            "failures": tally.failures,
            "last": tally.last,
        }
        if version is None:
            self.es.create(index=self.index, id=doc_id, document=document)
        else:
            self.es.index(index=self.index, id=doc_id, document=document, **version)

    def begin(self, scope: str, subject: str, policy: Policy) -> float:
        """Count an attempt of this key: 0 when it may go ahead, else the seconds it must
        wait (and it is not counted)."""
        self.ensure()
        doc_id = key_id(scope, subject)
        for _ in range(CAS_TRIES):
            now = self.clock()
            tally, version = self._read(doc_id)
            wait = retry_after(tally, policy, now)
            if wait > 0:
                return wait
            try:
                self._write(scope, subject, doc_id, counted(tally, policy, now), version)
                return 0.0
            except ConflictError:
                continue  # another attempt of this key was counted meanwhile: read again
        # So many attempts on one key at once that none could be counted: refuse this one.
        return policy.base_s

    def refund(self, scope: str, subject: str) -> None:
        """Give back an attempt that succeeded."""
        self.ensure()
        doc_id = key_id(scope, subject)
        for _ in range(CAS_TRIES):
            tally, version = self._read(doc_id)
            if version is None or tally.failures == 0:
                return
            try:
                self._write(scope, subject, doc_id, refunded(tally), version)
                return
            except ConflictError:
                continue

    def clear(self, scope: str, subject: str) -> bool:
        """Forget a key's tally (a successful login, an admin's unlock); True if it had one."""
        self.ensure()
        try:
            self.es.delete(index=self.index, id=key_id(scope, subject), refresh=True)
        except NotFoundError:
            return False
        return True

    def waits(self, scope: str, subjects: Sequence[str], policy: Policy) -> dict[str, float]:
        """Seconds each subject must still wait (0: it may try now)."""
        self.ensure()
        if not subjects:
            return {}
        ids = [key_id(scope, s) for s in subjects]
        docs = self.es.mget(index=self.index, ids=ids)["docs"]
        now = self.clock()
        found = {
            d["_id"]: Tally(int(d["_source"]["failures"]), float(d["_source"]["last"]))
            for d in docs
            if d.get("found")
        }
        return {
            s: retry_after(found.get(i, Tally()), policy, now)
            for s, i in zip(subjects, ids, strict=True)
        }

    def prune(self, forget_s: float, batch: int = 1000, batches: int = 20) -> int:
        """Delete tallies nobody added to for `forget_s` (they count for nothing any more), so
        a spray of made-up user names leaves no lasting documents; at most `batches` x `batch`
        per call (the rest next time). Search and bulk delete: not every Elasticsearch build
        has delete-by-query (the local one has no reindex module). How many it deleted."""
        self.ensure()
        deleted = 0
        for _ in range(batches):
            self.es.indices.refresh(index=self.index)
            hits = self.es.search(
                index=self.index,
                query={"range": {"last": {"lt": self.clock() - forget_s}}},
                size=batch,
                source=False,
            )["hits"]["hits"]
            if not hits:
                break
            ops = [{"delete": {"_index": self.index, "_id": h["_id"]}} for h in hits]
            self.es.bulk(operations=ops)
            deleted += len(hits)
        return deleted


class LoginThrottle:
    """The two tallies of a login: its account (the name as typed) and its client address."""

    def __init__(self, attempts: Attempts, account: Policy, address: Policy) -> None:
        self.attempts = attempts
        self.policies = {ACCOUNT: account, ADDRESS: address}
        self._pruned = attempts.clock()

    def begin(self, account: str | None, address: str | None) -> tuple[str, float] | None:
        """Count the attempt against each key it has, address first; None when it may go
        ahead, else (the scope that refused it, seconds to wait). A refused address leaves the
        account's tally alone: one guesser cannot lock out an account from a locked address."""
        self._prune_now_and_then()
        for scope, subject in ((ADDRESS, address), (ACCOUNT, account)):
            if subject:
                wait = self.attempts.begin(scope, subject, self.policies[scope])
                if wait > 0:
                    return scope, wait
        return None

    def succeeded(self, account: str | None, address: str | None) -> None:
        if account:
            self.attempts.clear(ACCOUNT, account)
        if address:
            self.attempts.refund(ADDRESS, address)

    def unlock(self, scope: str, subject: str) -> bool:
        return self.attempts.clear(scope, subject)

    def locked(self, names: Sequence[str]) -> dict[str, float]:
        """Seconds each account must still wait before its next login attempt."""
        return self.attempts.waits(ACCOUNT, names, self.policies[ACCOUNT])

    def _prune_now_and_then(self) -> None:
        forget_s = min(p.forget_s for p in self.policies.values())
        if self.attempts.clock() - self._pruned < forget_s:
            return
        self._pruned = self.attempts.clock()
        # In the background: the login that happens to start it does not wait for it.
        threading.Thread(target=self._prune, args=(forget_s,), daemon=True).start()

    def _prune(self, forget_s: float) -> None:
        try:
            self.attempts.prune(forget_s)
        except (ApiError, TransportError):
            log.warning("could not delete old login tallies; the next prune will", exc_info=True)
