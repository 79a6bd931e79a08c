"""Secrets kept in Elasticsearch (webhook HMAC keys) are sealed with a key that is not there:
someone who can read the index alone cannot sign alerts. Fernet (AES-128-CBC + HMAC-SHA256,
from `cryptography`). The key comes from CWATCH_SECRET_KEY, else the file CWATCH_SECRET_KEY_FILE,
created (mode 0600) by the first process that needs it; every process that reads or writes
subscriptions (the API, `cwatch alerts run`, the CLI) must see the same key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from services.common.settings import CommonSettings

PREFIX = "enc:v1:"


class SecretUnreadable(ValueError):
    """Sealed with another key (or damaged): the secret cannot be used."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: CommonSettings | None = None) -> SecretBox:
        settings = settings or CommonSettings()
        if settings.secret_key:
            return cls(settings.secret_key.get_secret_value().encode("ascii"))
        return cls(_key_file(Path(settings.secret_key_file)))

    def seal(self, text: str) -> str:
        if text.startswith(PREFIX):
            return text
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, text: str) -> str:
        """The plain secret; one stored before sealing existed is returned as it is."""
        if not text.startswith(PREFIX):
            return text
        try:
            return self._fernet.decrypt(text[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(
                "sealed with another key: set CWATCH_SECRET_KEY(_FILE) as for the other processes"
            ) from exc


def _key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
