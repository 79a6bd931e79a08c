"""The sources file: which feeds and sitemaps to poll, and who publishes them."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.common import Affiliation, SourceInfo, SourceKind
from services.common.netguard import check_url_text
from services.ingestor.adapters.telegram import PUBLIC_BASE, channel_from_url, valid_channel

POLLABLE = (SourceKind.FEED, SourceKind.SITEMAP, SourceKind.PAGE, SourceKind.TELEGRAM)


class SourceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    url: str = Field(
        default="",
        max_length=4096,
        description="Feed, sitemap or page URL; for Telegram the preview URL (default "
        "https://t.me/s/<channel>, another host for tests)",
    )
    channel: str | None = Field(default=None, description="Telegram channel username")
    kind: SourceKind = SourceKind.FEED
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    language: str = Field(min_length=2, max_length=8, description="ISO 639-1")
    affiliation: Affiliation
    poll_interval_s: float | None = Field(default=None, gt=0)
    official: bool = Field(
        default=False,
        description="Ministries, governments, armed forces: items are re-checked for edits "
        "and withdrawal",
    )
    enabled: bool = True
    notes: str = ""

    @field_validator("kind")
    @classmethod
    def _pollable(cls, value: SourceKind) -> SourceKind:
        if value not in POLLABLE:
            raise ValueError("kind must be feed, sitemap, page or telegram")
        return value

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _url(self) -> SourceEntry:
        if self.kind == SourceKind.TELEGRAM:
            if self.channel is not None and not valid_channel(self.channel):
                raise ValueError(f"not a Telegram channel username: {self.channel[:100]!r}")
            if not self.url:
                if not self.channel:
                    raise ValueError("a telegram source needs channel or url")
                self.url = f"{PUBLIC_BASE}/s/{self.channel}"
        if len(self.url) < 8:
            raise ValueError("url is missing")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be http(s)")
        check_url_text(self.url)  # UnsafeURL is a ValueError: reported with the entry
        if self.kind == SourceKind.TELEGRAM:
            found = channel_from_url(self.url)
            if found is None or (self.channel and found != self.channel):
                raise ValueError(f"not a Telegram channel preview URL: {self.url[:200]!r}")
            self.channel = found
        return self

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.url,
            country=self.country,
            language=self.language,
            affiliation=self.affiliation,
        )


class SourcesFileError(ValueError):
    pass


def load_sources(path: Path) -> list[SourceEntry]:
    """All entries of a sources file (disabled ones included). Raises SourcesFileError with
    the position of the first bad entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesFileError(f"cannot read {path}: {exc}") from exc
    items = raw.get("sources") if isinstance(raw, dict) else raw
    if isinstance(raw, dict) and "sources" in raw and items is None:
        items = []  # "sources:" with nothing under it yet
    if not isinstance(items, list):
        raise SourcesFileError(f"{path}: expected a list under 'sources:'")
    entries: list[SourceEntry] = []
    for position, item in enumerate(items):
        try:
            entries.append(SourceEntry.model_validate(item))
        except ValidationError as exc:
            raise SourcesFileError(f"{path}: entry {position}: {exc}") from exc
    return entries


def entry_fields(entry: SourceEntry) -> dict[str, object]:
    """The entry as it is written in the file: only what differs from the defaults."""
    data = entry.model_dump(mode="json", exclude_defaults=True)
    if entry.kind == SourceKind.TELEGRAM and entry.channel and entry.url.startswith(PUBLIC_BASE):
        data.pop("url", None)  # the channel says it all
    for key in ("name", "kind", "channel", "url", "country", "language", "affiliation"):
        if key in data:
            data[key] = data.pop(key)  # a readable order: who, what, where
    return {k: data[k] for k in sorted(data, key=_FIELD_ORDER.index)}


_FIELD_ORDER = [
    "name",
    "kind",
    "channel",
    "url",
    "country",
    "language",
    "affiliation",
    "official",
    "poll_interval_s",
    "enabled",
    "notes",
]


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def add_sources(path: Path, new: list[SourceEntry]) -> list[SourceEntry]:
    """Append entries to the sources file, keeping its comments and layout; entries whose
    URL is already there are skipped (returned: the ones added). The file is re-read
    before it replaces the old one, so a bad edit never lands."""
    existing = load_sources(path) if path.exists() else []
    urls = {e.url for e in existing}
    added = []
    for entry in new:
        if entry.url not in urls:
            added.append(entry)
            urls.add(entry.url)
    if not added:
        return []
    text = path.read_text(encoding="utf-8") if path.exists() else "sources:\n"
    root = yaml.compose(text) if text.strip() else None
    if not isinstance(root, yaml.MappingNode) or not any(
        k.value == "sources" for k, _ in root.value
    ):
        raise SourcesFileError(f"{path}: expected a mapping with 'sources:' to add to")
    last_key, last_value = root.value[-1]
    empty = isinstance(last_value, yaml.ScalarNode) and last_value.value in ("", "~", "null")
    if last_key.value != "sources" or not (empty or isinstance(last_value, yaml.SequenceNode)):
        raise SourcesFileError(f"{path}: 'sources:' must be the last key to add entries")
    if isinstance(last_value, yaml.SequenceNode) and last_value.flow_style:
        raise SourcesFileError(f"{path}: 'sources:' is a flow list; write it as a block list")
    lines = [
        "  - "
        + yaml.safe_dump(
            entry_fields(e), default_flow_style=True, width=10_000, sort_keys=False
        ).strip()
        for e in added
    ]
    if not text.endswith("\n"):
        text += "\n"
    _check_and_write(path, text + "\n".join(lines) + "\n")
    return added


def remove_sources(path: Path, match: str) -> list[SourceEntry]:
    """Remove the entries whose name or URL is `match`, keeping the rest of the file as it
    is. Returns the removed entries."""
    entries = load_sources(path)
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text)
    node = None
    if isinstance(root, yaml.MappingNode):
        node = next((v for k, v in root.value if k.value == "sources"), None)
    if not isinstance(node, yaml.SequenceNode) or node.flow_style:
        raise SourcesFileError(f"{path}: expected a block list under 'sources:'")
    lines = text.splitlines(keepends=True)
    drop: list[tuple[int, int]] = []
    removed = []
    for entry, item in zip(entries, node.value, strict=True):
        if match not in (entry.name, entry.url, entry.channel):
            continue
        removed.append(entry)
        start = item.start_mark.line  # the "- " is on the item's first line
        end = _last_line(item) + 1  # comments after the entry head the next one: they stay
        drop.append((start, end))
    for start, end in reversed(drop):
        del lines[start:end]
    if removed:
        _check_and_write(path, "".join(lines))
    return removed


def _last_line(node: yaml.Node) -> int:
    """The last line a node's own text is on (a block collection ends where the next token
    starts, which may be lines of comments later: its last child says where it really ends)."""
    if (
        isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        and not node.flow_style
        and node.value
    ):
        last = node.value[-1]
        return _last_line(last[1] if isinstance(last, tuple) else last)
    return node.end_mark.line - (1 if node.end_mark.column == 0 else 0)


def _check_and_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".check")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_sources(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    _write_atomically(path, text)
