"""Duplicates and stories.

* exact duplicates: same content hash (folded headline + body) as an earlier report;
* near duplicates: MinHash over word 3-shingles, LSH lookup among recent reports;
* story_id: reports of one event across sources, languages and sides share the key
  (main event type, the two most salient entities, time bucket); a duplicate joins the story
  of its original.

The state lives in three string-keyed mappings of JSON values. In the worker they are faust
Tables (changelog-backed, so the state survives a restart); in tests and `cwatch extract` plain
dicts. The LSH index itself is rebuilt in memory from the signatures mapping when first used.
"""

from __future__ import annotations

import hashlib
import heapq
import zlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 64
SHINGLE = 3
PRUNE_EVERY = 500
MAX_CANDIDATES = 16


@dataclass(frozen=True, slots=True)
class DedupResult:
    duplicate_of: str | None
    near_duplicate_of: str | None
    story_id: str


def content_hash(folded_text: str) -> str:
    return hashlib.sha256(folded_text.encode("utf-8")).hexdigest()


_PROTOTYPE = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, scheme="affine32")
# Computing the LSH band layout integrates a curve (slow); it only depends on these two.
_LSH_PARAMS: dict[float, tuple[int, int]] = {}


def _new_minhash() -> MinHash:
    """crc32 (deterministic across processes, unlike hash()) and shared permutations."""
    return MinHash(
        num_perm=NUM_PERM,
        seed=1,
        hashfunc=zlib.crc32,
        permutations=_PROTOTYPE.permutations,
        scheme="affine32",
    )


def _lean(hashvalues: Any) -> LeanMinHash:
    """A stored signature: no permutations to parse (half the cost of a MinHash per report)."""
    return LeanMinHash(seed=1, hashvalues=hashvalues, scheme="affine32")


def _new_lsh(threshold: float) -> MinHashLSH:
    if threshold not in _LSH_PARAMS:
        probe = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        _LSH_PARAMS[threshold] = (probe.b, probe.r)
    return MinHashLSH(threshold=threshold, num_perm=NUM_PERM, params=_LSH_PARAMS[threshold])


def minhash_of(tokens: list[str], scratch: MinHash | None = None) -> LeanMinHash:
    """The signature of word 3-shingles; `scratch` is a MinHash to reuse (it is cleared)."""
    mh = scratch if scratch is not None else _new_minhash()
    mh.clear()
    if len(tokens) < SHINGLE:
        shingles = [" ".join(tokens).encode("utf-8")] if tokens else []
    else:
        shingles = [
            " ".join(s).encode("utf-8") for s in zip(tokens, tokens[1:], tokens[2:], strict=False)
        ]
    if shingles:
        mh.update_batch(shingles)
    return _lean(mh.hashvalues)


def story_key(event_type: str | None, entity_ids: list[str]) -> str:
    return f"{event_type or 'none'}|{','.join(sorted(entity_ids[:2]))}"


class DedupState:
    def __init__(
        self,
        hashes: MutableMapping[str, Any] | None = None,
        signatures: MutableMapping[str, Any] | None = None,
        stories: MutableMapping[str, Any] | None = None,
        threshold: float = 0.8,
        window_hours: int = 72,
        story_window_hours: int = 48,
        max_recent: int = 20_000,
    ) -> None:
        self.hashes: MutableMapping[str, Any] = {} if hashes is None else hashes
        self.signatures: MutableMapping[str, Any] = {} if signatures is None else signatures
        self.stories: MutableMapping[str, Any] = {} if stories is None else stories
        self.threshold = threshold
        self.window_s = window_hours * 3600
        self.story_bucket_s = story_window_hours * 3600
        self.max_recent = max_recent
        self._lsh: MinHashLSH | None = None
        self._minhashes: dict[str, LeanMinHash] = {}  # decoded signatures, not re-decoded per query
        self._scratch = _new_minhash()
        self._inserts = 0

    # -- snapshots (tests, `cwatch extract --state FILE`) --------------------------------
    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {
            "hashes": dict(self.hashes.items()),
            "signatures": dict(self.signatures.items()),
            "stories": dict(self.stories.items()),
        }

    @classmethod
    def restore(cls, snap: dict[str, dict[str, Any]], **kw: Any) -> DedupState:
        return cls(
            dict(snap.get("hashes", {})),
            dict(snap.get("signatures", {})),
            dict(snap.get("stories", {})),
            **kw,
        )

    # -- the check -------------------------------------------------------------------------
    def _index(self) -> MinHashLSH:
        if self._lsh is None:
            self._lsh = _new_lsh(self.threshold)
            for report_id, value in list(self.signatures.items()):
                self._lsh.insert(report_id, _lean(value["h"]))
        return self._lsh

    def reset_index(self) -> None:
        """Forget the in-memory LSH index; it is rebuilt from `signatures` when next needed
        (after a rebalance the worker owns other partitions of the tables)."""
        self._lsh = None
        self._minhashes.clear()

    def _story(self, key: str, when: float) -> str:
        bucket = int(when // self.story_bucket_s)
        for b in (bucket, bucket - 1):
            found = self.stories.get(f"{b}|{key}")
            if found:
                story_id = str(found["s"])
                self.stories[f"{bucket}|{key}"] = {"s": story_id, "t": when}
                return story_id
        story_id = "story-" + hashlib.sha1(f"{bucket}|{key}".encode()).hexdigest()[:16]
        self.stories[f"{bucket}|{key}"] = {"s": story_id, "t": when}
        return story_id

    def check(
        self, report_id: str, chash: str, tokens: list[str], key: str, when: datetime
    ) -> DedupResult:
        ts = when.timestamp()
        seen = self.hashes.get(chash)
        if seen and seen["r"] != report_id:
            return DedupResult(str(seen["r"]), None, str(seen["s"]))
        if seen:  # the same report again (a redelivery): same answer, no new state
            return DedupResult(None, seen.get("n"), str(seen["s"]))
        mh = minhash_of(tokens, self._scratch)
        lsh = self._index()
        near = None
        best = 0.0
        # A big story has many near-identical versions; comparing with a few is enough.
        for other in heapq.nsmallest(MAX_CANDIDATES, lsh.query(mh)):
            if other == report_id:
                continue
            other_mh = self._minhashes.get(other)
            if other_mh is None:
                value = self.signatures.get(other)
                if value is None:
                    continue
                other_mh = self._minhashes[other] = _lean(value["h"])
            similarity = mh.jaccard(other_mh)
            if similarity >= self.threshold and similarity > best:
                near, best = other, similarity
        story_id = str(self.signatures[near]["s"]) if near else self._story(key, ts)
        self.hashes[chash] = {"r": report_id, "s": story_id, "t": ts, "n": near}
        if report_id not in self.signatures:
            self.signatures[report_id] = {
                "h": mh.hashvalues.tolist(),  # plain ints, for JSON
                "s": story_id,
                "t": ts,
            }
            lsh.insert(report_id, mh)
            self._minhashes[report_id] = mh
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self.prune(ts)
        return DedupResult(None, near, story_id)

    def resolve_story(self, story_id: str) -> str:
        return story_id

    def prune(self, now: float) -> int:
        """Forget signatures and hashes older than the window (and the oldest beyond max)."""
        removed = 0
        items = sorted(self.signatures.items(), key=lambda kv: kv[1]["t"])
        excess = max(0, len(items) - self.max_recent)
        for i, (report_id, value) in enumerate(items):
            if i >= excess and now - value["t"] <= self.window_s:
                break
            del self.signatures[report_id]
            if self._lsh is not None and report_id in self._lsh:
                self._lsh.remove(report_id)
            self._minhashes.pop(report_id, None)
            removed += 1
        for mapping, horizon in (
            (self.hashes, self.window_s),
            (self.stories, 2 * self.story_bucket_s),
        ):
            for key, value in list(mapping.items()):
                if now - value["t"] > horizon:
                    del mapping[key]
        return removed
