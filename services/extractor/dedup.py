"""Duplicates and stories.

* exact duplicates: same content hash (folded headline + body) as an earlier report, known
  for a week since the text was last seen (a near-duplicate's signature: for the window);
* near duplicates: MinHash over the body's word 3-shingles (the headline left out: a
  re-publication often rewrites it), LSH lookup among recent reports, then the share of the
  shorter text's shingles found in the other (containment, estimated from the Jaccard and the
  two sizes): a wire copy with a lead paragraph added or the agency line moved still matches;
* of two copies, the one published first is the original, whatever order they arrive in;
* story_id: services/extractor/stories.py; a duplicate joins the story of its original.

The state lives in three string-keyed mappings of JSON values. In the worker they are faust
Tables (changelog-backed, so the state survives a restart); in tests and `cwatch extract` plain
dicts. The LSH index itself is rebuilt in memory from the signatures mapping when first used.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import zlib
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datasketch import LeanMinHash, MinHash, MinHashLSH

from services.extractor.stories import KEEP_S, StoryFeatures, StoryIndex

NUM_PERM = 64
SHINGLE = 3
PRUNE_EVERY = 500
MAX_CANDIDATES = 16
RECENT_REPORTS = 2000
MAX_DETAILS = 40
LSH_THRESHOLD = 0.5  # candidates; the containment decides
MIN_JACCARD = 0.3
STEM = 5  # letters of a headline word compared


@dataclass(frozen=True, slots=True)
class DedupResult:
    duplicate_of: str | None
    near_duplicate_of: str | None
    story_id: str
    merged_stories: tuple[str, ...] = ()
    # A copy seen before this, its original (published earlier, arrived later): that copy's
    # report is corrected to name this one, as "duplicate_of" or "near_duplicate_of".
    copy_seen_first: tuple[str, str] | None = None


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


def shingles_of(tokens: list[str]) -> set[bytes]:
    if len(tokens) < SHINGLE:
        return {" ".join(tokens).encode("utf-8")} if tokens else set()
    return {" ".join(s).encode("utf-8") for s in zip(tokens, tokens[1:], tokens[2:], strict=False)}


def minhash_of(tokens: list[str], scratch: MinHash | None = None) -> LeanMinHash:
    """The signature of word 3-shingles; `scratch` is a MinHash to reuse (it is cleared)."""
    return _signature(shingles_of(tokens), scratch)


def _signature(shingles: set[bytes], scratch: MinHash | None = None) -> LeanMinHash:
    mh = scratch if scratch is not None else _new_minhash()
    mh.clear()
    if shingles:
        mh.update_batch(list(shingles))
    return _lean(mh.hashvalues)


def containment(jaccard: float, size_a: int, size_b: int) -> float:
    """Share of the smaller set inside the other, from their Jaccard and sizes."""
    if not size_a or not size_b:
        return 0.0
    shared = jaccard * (size_a + size_b) / (1 + jaccard)
    return min(1.0, shared / min(size_a, size_b))


@dataclass(frozen=True)
class TextPrint:
    """What near-duplicate detection keeps of a text: the MinHash of its body's word
    3-shingles (the headline left out: a re-publication often rewrites it), how many shingles,
    the numbers it holds and its headline's word stems. Computed by the extraction, so only
    these travel to the story stage, not the text."""

    hashvalues: tuple[int, ...]
    size: int
    numbers: tuple[str, ...]
    headline: tuple[str, ...] = ()  # stems of the headline's words (4+ letters)

    @classmethod
    def of(cls, tokens: list[str], body_from: int = 0) -> TextPrint:
        body = tokens[body_from:] if len(tokens) - body_from >= SHINGLE else tokens
        shingles = shingles_of(body)
        numbers = tuple(sorted({t for t in body if t.isdigit()})[:MAX_DETAILS])
        return cls(
            tuple(_signature(shingles).hashvalues.tolist()),
            len(shingles),
            numbers,
            headline_stems(tokens[:body_from]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "h": list(self.hashvalues),
            "c": self.size,
            "d": list(self.numbers),
            "w": list(self.headline),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TextPrint:
        return cls(
            tuple(int(h) for h in value["h"]),
            int(value["c"]),
            tuple(value["d"]),
            tuple(value.get("w", ())),
        )


def headline_stems(tokens: list[str]) -> tuple[str, ...]:
    """The first letters of a headline's longer words: enough to see that a rewritten
    headline ("Mortar fire near Sotk wounds two") still tells its original's news, whatever
    the inflection."""
    return tuple(
        sorted({t[:STEM] for t in tokens if len(t) >= 4 and not t.isdigit()})[:MAX_DETAILS]
    )


def _details(text: TextPrint, features: StoryFeatures) -> dict[str, list[str]]:
    """What tells two templated texts apart (a ministry's daily report, a wire's standard
    wording): the numbers (dates, counts) and the places, people and bodies named; and the
    headline's stems."""
    return {
        "d": list(text.numbers),
        "x": sorted(set(features.entities))[:MAX_DETAILS],
        "w": list(text.headline),
    }


def _consistent(mine: dict[str, list[str]], theirs: dict[str, Any], size: int, other: int) -> bool:
    """A copy holds (nearly) all of its original: the numbers and names of the shorter text
    must all be in the longer one. And it tells the same news: one body under headlines
    without a word in common is boilerplate (a paywall stub, a section's stock paragraphs, a
    weather box) that each item carries, not a copy of another."""
    mine_head, their_head = set(mine.get("w", ())), set(theirs.get("w", ()))
    if mine_head and their_head and not mine_head & their_head:
        return False
    for key in ("d", "x"):
        if key not in theirs:
            continue
        a, b = set(mine[key]), set(theirs[key])
        shorter, longer = (a, b) if size <= other else (b, a)
        if len(mine[key]) < MAX_DETAILS and len(theirs[key]) < MAX_DETAILS and shorter - longer:
            return False
    return True


class DedupState:
    def __init__(
        self,
        hashes: MutableMapping[str, Any] | None = None,
        signatures: MutableMapping[str, Any] | None = None,
        stories: MutableMapping[str, Any] | None = None,
        threshold: float = 0.8,
        window_hours: int = 72,
        max_recent: int = 20_000,
    ) -> None:
        self.hashes: MutableMapping[str, Any] = {} if hashes is None else hashes
        self.signatures: MutableMapping[str, Any] = {} if signatures is None else signatures
        self.story_index = StoryIndex(stories)
        self.threshold = threshold
        self.window_s = window_hours * 3600
        # An exact copy costs one small entry: it is known for as long as a story is kept,
        # counted from its last re-publication (a filler or notice re-run every few days stays
        # one text), where near-duplicate signatures are kept for the (shorter) window.
        self.exact_window_s = max(self.window_s, KEEP_S)
        self.max_recent = max_recent
        self._lsh: MinHashLSH | None = None
        self._minhashes: dict[str, LeanMinHash] = {}  # decoded signatures, not re-decoded per query
        self._inserts = 0
        # The last reports produced, to correct a copy whose original arrives after it. In
        # memory only: after a restart such a late original is left unlinked (rare: it takes
        # a copy overtaking its original by more than the story stage's ordering window).
        self._recent: OrderedDict[str, Any] = OrderedDict()

    @property
    def stories(self) -> MutableMapping[str, Any]:
        return self.story_index.stories

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
            self._lsh = _new_lsh(LSH_THRESHOLD)
            for report_id, value in list(self.signatures.items()):
                self._lsh.insert(report_id, _lean(value["h"]))
        return self._lsh

    def reset_index(self) -> None:
        """Forget the in-memory indices; they are rebuilt from the tables when next needed
        (after a rebalance the worker may own other partitions of the tables)."""
        self._lsh = None
        self._minhashes.clear()
        self.story_index.reset()

    def _near(
        self,
        report_id: str,
        mh: LeanMinHash,
        size: int,
        details: dict[str, list[str]],
        when: float,
    ) -> str | None:
        near = None
        best = (0.0, 0.0)

        def distance(other: str) -> tuple[float, str]:
            value = self.signatures.get(other)
            return (abs(when - float(value["t"])) if value else math.inf, other)

        # A big story has many near-identical versions, and templated texts (a ministry's
        # daily wording) many look-alikes: comparing with a few is enough, the ones published
        # nearest in time, where a copy is (the first ids in hash order were any few: a copy
        # among 30 candidates missed its original half the time).
        for other in heapq.nsmallest(MAX_CANDIDATES, self._index().query(mh), key=distance):
            if other == report_id:
                continue
            value = self.signatures.get(other)
            if value is None:
                continue
            other_mh = self._minhashes.get(other)
            if other_mh is None:
                other_mh = self._minhashes[other] = _lean(value["h"])
            jaccard = mh.jaccard(other_mh)
            contained = containment(jaccard, size, int(value.get("c", size)))
            if (
                jaccard >= MIN_JACCARD
                and contained >= self.threshold
                and (contained, jaccard) > best
                and _consistent(details, value, size, int(value.get("c", size)))
            ):
                near, best = other, (contained, jaccard)
        return near

    def check(
        self,
        report_id: str,
        chash: str,
        text: TextPrint | list[str],
        when: datetime,
        features: StoryFeatures | None = None,
    ) -> DedupResult:
        """Duplicates and the story of one report (`text`: its print, or its folded tokens)."""
        if not isinstance(text, TextPrint):
            text = TextPrint.of(text)
        ts = when.timestamp()
        features = features or StoryFeatures(report_id, ts, "und")
        seen = self.hashes.get(chash)
        if seen and seen["r"] == report_id:  # a redelivery: same answer, no new state
            story_id = self.story_index.resolve(str(seen["s"]))
            # ... including a copy it found first: re-corrected, or linked the wrong way round
            # again, never left unlinked (`finish`)
            first = seen.get("c")
            copy_seen_first = (str(first[0]), str(first[1])) if first else None
            return DedupResult(None, seen.get("n"), story_id, (), copy_seen_first)
        if seen and float(seen["t"]) <= ts:
            if ts > float(seen.get("z", seen["t"])):
                # a text re-published again and again stays known while it keeps coming
                self.hashes[chash] = {**seen, "z": ts}
            story = self.story_index.assign(features, str(seen["s"]))
            return DedupResult(str(seen["r"]), None, story.story_id, story.merged)
        correction = (str(seen["r"]), "duplicate_of") if seen else None
        mh = _lean(text.hashvalues)
        details = _details(text, features)
        own = self.signatures.get(report_id)
        near = None if seen or own else self._near(report_id, mh, text.size, details, ts)
        original_story = str(seen["s"]) if seen else None
        if own is not None:  # a later version of this report (an edit): it keeps its story
            original_story = str(own["s"])
        if near is not None:
            original_story = str(self.signatures[near]["s"])
            if float(self.signatures[near]["t"]) > ts:
                # published before its copy: this one is the original
                correction, near = (near, "near_duplicate_of"), None
                self._relink(correction[0], report_id)
        story = self.story_index.assign(features, original_story)
        entry = {"r": report_id, "s": story.story_id, "t": ts, "n": near}
        if correction is not None:
            entry["c"] = list(correction)  # what a redelivery of this report must repeat
        self.hashes[chash] = entry
        if report_id not in self.signatures:
            self.signatures[report_id] = {
                "h": mh.hashvalues.tolist(),  # plain ints, for JSON
                "c": text.size,
                "k": chash,
                **details,
                "s": story.story_id,
                "t": ts,
            }
            self._index().insert(report_id, mh)
            self._minhashes[report_id] = mh
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self.prune(ts)
        return DedupResult(None, near, story.story_id, story.merged, correction)

    def remember_report(self, report: Any) -> None:
        self._recent[report.report_id] = report
        self._recent.move_to_end(report.report_id)
        while len(self._recent) > RECENT_REPORTS:
            self._recent.popitem(last=False)

    def recent_report(self, report_id: str) -> Any | None:
        return self._recent.get(report_id)

    def _relink(self, copy_id: str, original_id: str) -> None:
        """Record that a copy names `original_id`: the copy's draft, read again after a
        worker died, then gets the corrected answer, not the first one."""
        chash = str((self.signatures.get(copy_id) or {}).get("k") or "")
        entry = self.hashes.get(chash) if chash else None
        if entry and entry["r"] == copy_id:
            self.hashes[chash] = {**entry, "n": original_id}  # re-set: a table write

    def resolve_story(self, story_id: str) -> str:
        """The story a story id lives on as after merges."""
        return self.story_index.resolve(story_id)

    def prune(self, now: float) -> int:
        """Forget signatures older than the window (and the oldest beyond max), exact hashes
        not seen for a week."""
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
        for key, value in list(self.hashes.items()):
            if now - float(value.get("z", value["t"])) > self.exact_window_s:
                del self.hashes[key]
        self.story_index.prune(now)
        return removed
