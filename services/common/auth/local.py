"""The explicit local mode without accounts (CWATCH_API_AUTH=off): loopback only, and said."""

from __future__ import annotations

import ipaddress
import logging

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_local_mode(host: str, auth_on: bool) -> None:
    """Without accounts the server answers everyone as admin: only on a loopback address."""
    if auth_on:
        return
    if not is_loopback(host):
        raise SystemExit(
            f"refusing to listen on {host} without accounts (CWATCH_API_AUTH=off): every "
            "request would act as an admin. Listen on 127.0.0.1, or turn accounts on."
        )
    log.warning(
        "accounts are OFF (CWATCH_API_AUTH=off): every request on %s acts as a local admin; "
        "for one person on this machine only",
        host,
    )
