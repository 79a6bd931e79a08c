"""Webhook secrets are sealed at rest with a key kept outside Elasticsearch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.alerts.models import Channel, Subscription
from services.alerts.store import _loaded, _opened, _sealed
from services.common.secretbox import SecretBox, SecretUnreadable
from services.common.settings import CommonSettings


def test_a_sealed_secret_opens_only_with_its_key() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal("s" * 32)
    assert sealed.startswith("enc:v1:") and "s" * 32 not in sealed
    assert box.open(sealed) == "s" * 32 and box.seal(sealed) == sealed
    assert box.open("legacy-plain-secret") == "legacy-plain-secret"
    with pytest.raises(SecretUnreadable):
        SecretBox(Fernet.generate_key()).open(sealed)


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = CommonSettings(secret_key_file=tmp_path / "k" / "secret.key")
    sealed = SecretBox.from_settings(settings).seal("a webhook secret!")
    assert os.stat(tmp_path / "k" / "secret.key").st_mode & 0o077 == 0
    assert SecretBox.from_settings(settings).open(sealed) == "a webhook secret!"


def test_the_store_writes_sealed_secrets_and_reads_them_back() -> None:
    box = SecretBox(Fernet.generate_key())
    sub = Subscription(channel=Channel(kind="webhook", url="https://example.org/h"))
    doc = _sealed(sub, box)
    assert sub.channel.secret not in str(doc)
    assert _opened(doc, box).channel.secret == sub.channel.secret
    # Sealed with another key: skipped with the reason, never handed to the dispatcher.
    assert _loaded({"_id": sub.id, "_source": doc}, SecretBox(Fernet.generate_key())) is None
