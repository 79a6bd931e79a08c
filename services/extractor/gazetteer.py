"""The gazetteer: people, organisations and places with canonical ids, loaded from data files
(YAML curated entries + the generated Who's On First places) into one Aho-Corasick automaton
over folded aliases, plus a small vocabulary for typo-tolerant matching."""

from __future__ import annotations

import csv
import gzip
import io
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from schemas.report import EntityType
from services.common.fold import fold_text

DATA_DIR = Path(__file__).resolve().parent / "data" / "gazetteer"
CURATED_FILES = ("people.yaml", "organisations.yaml", "places.yaml")
GENERATED_FILE = "places_generated.tsv.gz"
INFLECT_MIN = 4  # aliases this long (folded) also match inflected forms: Пашиняна, Bakü'de
FUZZY_MIN = 6  # tokens this long are compared with fuzzy matching
GENERATED_WEIGHT = 0.3
_PREFIX_TYPES = {"person": EntityType.PERSON, "org": EntityType.ORGANIZATION}


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    name: str
    type: EntityType
    weight: float = 0.0
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    names: dict[str, str] = field(default_factory=dict)
    curated: bool = True


@dataclass(frozen=True, slots=True)
class AliasHit:
    """Value stored in the automaton for one folded alias."""

    key_len: int  # length of " " + folded alias
    entry_id: str
    inflect: bool  # may be followed by a short inflection suffix
    upper_only: bool  # an abbreviation that only counts when written in capitals (UN, EU)
    curated: bool
    shared: bool = False  # a bare surname other people carry too: needs more than itself


def _entity_type(entry_id: str) -> EntityType:
    return _PREFIX_TYPES.get(entry_id.split(":", 1)[0], EntityType.PLACE)


def _is_abbreviation(alias: str) -> bool:
    letters = [c for c in alias if c.isalpha()]
    return 0 < len(letters) <= 5 and alias.upper() == alias and alias.lower() != alias


class Gazetteer:
    """Immutable after construction but for the fuzzy-lookup cache; share one instance (see
    `default_gazetteer`)."""

    def __init__(self, extra_dirs: tuple[Path, ...] = (), with_generated: bool = True) -> None:
        self.entries: dict[str, Entry] = {}
        self._aliases: dict[str, AliasHit] = {}
        self.stopwords: set[str] = set()
        # folded role words of a person ("president", "նախագահ") that vouch for a bare shared
        # surname standing after them
        self.roles: dict[str, frozenset[str]] = {}
        # folded words looked up for a fuzzy match: their hit, and the set of those without one
        # (most words; a set difference skips them all at once). Bounded by `entities`.
        self.fuzzy_hits: dict[str, str] = {}
        self.fuzzy_misses: set[str] = set()
        dirs = (DATA_DIR, *extra_dirs)
        for folder in dirs:
            self._load_stopwords(folder / "stopwords.txt")
        for folder in dirs:
            names = list(CURATED_FILES) if folder == DATA_DIR else []
            names += sorted(p.name for p in folder.glob("*.yaml") if p.name not in names)
            for name in names:
                self._load_yaml(folder / name)
        if with_generated:
            for folder in dirs:
                for path in sorted(folder.glob("*.tsv.gz")) + sorted(folder.glob("*.tsv")):
                    self._load_tsv(path)
        self.automaton = ahocorasick.Automaton()
        for folded, hit in self._aliases.items():
            self.automaton.add_word(" " + folded, hit)
        self.automaton.make_automaton()
        # Fuzzy vocabulary: one-word curated aliases, bucketed by first letter (not a shared
        # surname: a misspelt "Aliyev" is no more one person than "Aliyev" is).
        self.fuzzy: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for folded, hit in self._aliases.items():
            if hit.curated and not hit.shared and " " not in folded and len(folded) >= FUZZY_MIN:
                self.fuzzy[folded[0]].append((folded, hit.entry_id))

    def __len__(self) -> int:
        return len(self.entries)

    def _load_stopwords(self, path: Path) -> None:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    self.stopwords.add(fold_text(line))

    def _add_alias(
        self, alias: str, entry: Entry, override: bool, shared: frozenset[str] = frozenset()
    ) -> None:
        folded = fold_text(alias)
        letters = folded.replace(" ", "")
        if len(letters) < 2:
            return
        if not entry.curated and (len(letters) < 4 or folded in self.stopwords):
            return
        existing = self._aliases.get(folded)
        if existing and not override:
            # Who's On First mislabels some names (Sisian listed under another village): among
            # generated places, the one whose own name is the alias wins.
            if existing.curated or fold_text(self.entries[existing.entry_id].name) == folded:
                return
            if fold_text(entry.name) != folded:
                return
        upper_only = _is_abbreviation(alias)
        self._aliases[folded] = AliasHit(
            key_len=len(folded) + 1,
            entry_id=entry.id,
            inflect=entry.curated and not upper_only and len(letters) >= INFLECT_MIN,
            upper_only=upper_only,
            curated=entry.curated,
            shared=folded in shared,
        )

    def _load_yaml(self, path: Path) -> None:
        if not path.exists():
            return
        items: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of entries")
        for item in items:
            entry = Entry(
                id=str(item["id"]),
                name=str(item["name"]),
                type=_entity_type(str(item["id"])),
                weight=float(item.get("weight", 0.1)),
                country=item.get("country"),
                lat=item.get("lat"),
                lon=item.get("lon"),
                names={str(k): str(v) for k, v in (item.get("names") or {}).items()},
            )
            self.entries[entry.id] = entry
            shared = frozenset(fold_text(str(a)) for a in item.get("shared_surname") or [])
            if item.get("roles"):
                self.roles[entry.id] = frozenset(fold_text(str(r)) for r in item["roles"])
            for alias in [entry.name, *(item.get("aliases") or []), *entry.names.values()]:
                self._add_alias(str(alias), entry, override=True, shared=shared)

    def _load_tsv(self, path: Path) -> None:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as raw:
            reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"), delimiter="\t")
            for row in reader:
                if row["id"] in self.entries:
                    continue
                sides = {k: row[k] for k in ("hy", "az", "ru") if row.get(k)}
                entry = Entry(
                    id=row["id"],
                    name=row["name"],
                    type=EntityType.PLACE,
                    weight=GENERATED_WEIGHT,
                    country=row.get("country") or None,
                    names=sides,
                    curated=False,
                )
                self.entries[entry.id] = entry
                for folded in row["aliases"].split("|"):
                    self._add_alias(folded, entry, override=False)

    def alias_count(self) -> int:
        return len(self._aliases)


_DEFAULT: dict[tuple[Path, ...], Gazetteer] = {}
_LOCK = threading.Lock()


def default_gazetteer(extra_dirs: tuple[Path, ...] = ()) -> Gazetteer:
    """The packaged gazetteer (plus user folders), built once per process."""
    with _LOCK:
        if extra_dirs not in _DEFAULT:
            _DEFAULT[extra_dirs] = Gazetteer(extra_dirs)
        return _DEFAULT[extra_dirs]
