"""Secrets out of what people read: log lines, dead-letter reasons, delivery logs, error texts.

A URL can be a credential. `user:password@` is one; so is a query parameter named like a key;
and a webhook URL of Slack, Mattermost, Teams or Discord IS its own bearer secret (whoever knows
`https://hooks.slack.com/services/T0/B0/XXXX` may post to that channel). What is kept is what an
operator needs to tell which receiver failed: the scheme, the host and the port.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters whose value is a credential (compared lower-case, without - and _).
SECRET_PARAMS = frozenset(
    {
        "token", "accesstoken", "authtoken", "apikey", "key", "secret", "clientsecret",
        "password", "passwd", "pwd", "sig", "signature", "code", "auth", "session",
        "xamzsignature", "xamzcredential", "xamzsecuritytoken", "sv", "sas",
    }
)  # fmt: skip
# Paths that are bearer secrets: Slack / Mattermost `/hooks/...`, Slack `/services/...`,
# Discord `/api/webhooks/...`, Teams `.../webhook/...` and `/workflows/...`, generic
# `/webhook(s)/...`, and any path segment that looks like a generated token.
_SECRET_PATH = re.compile(
    r"/(?:hooks?|services|webhooks?|webhookb2|workflows|triggers|api/webhooks)(?:/|$)", re.I
)
_TOKEN_SEGMENT = re.compile(r"^(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~%+=]{20,}$")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
_BEARER_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*")


def _netloc(host: str | None, port: int | None) -> str:
    if not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _parts(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, netloc without credentials, path, query), or None when it is not a URL."""
    try:
        parts = urlsplit(url)
        netloc = _netloc(parts.hostname, parts.port)
    except ValueError:
        return None
    if not parts.scheme or not netloc:
        return None
    credentials = "@" in parts.netloc
    return parts.scheme, (f"{MASK}@{netloc}" if credentials else netloc), parts.path, parts.query


def mask_webhook_url(url: str) -> str:
    """A receiver's URL as it may be shown: scheme, host and port; path and query masked
    (for a webhook, any of them may be the secret)."""
    parts = _parts(url)
    if parts is None:
        return MASK
    scheme, netloc, path, query = parts
    rest = "/" + MASK if path.strip("/") or query else ""
    return f"{scheme}://{netloc}{rest}"


def _mask_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query
    return urlencode(
        [(k, MASK if k.lower().replace("-", "").replace("_", "") in SECRET_PARAMS else v)
         for k, v in pairs],
        safe="*",
    )  # fmt: skip


def mask_url(url: str) -> str:
    """Any URL as it may be logged: credentials (`user:pass@`) and secret query parameters
    masked; a bearer-style webhook path (`/hooks/...`, `/services/...`, a token-like segment)
    masked from its first secret part on. An ordinary page URL keeps its path."""
    parts = _parts(url)
    if parts is None:
        return url
    scheme, netloc, path, query = parts
    match = _SECRET_PATH.search(path)
    if match:
        return urlunsplit((scheme, netloc, path[: match.end()].rstrip("/") + "/" + MASK, "", ""))
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if _TOKEN_SEGMENT.match(segment):
            return urlunsplit((scheme, netloc, "/".join(segments[:i] + [MASK]), "", ""))
    return urlunsplit((scheme, netloc, path, _mask_query(query), ""))


def mask_text(text: str, *secrets: str) -> str:
    """`text` with every URL in it passed through `mask_url`, `Bearer xxx`-style credentials
    masked, and each of `secrets` (a webhook URL, its path, an HMAC key) replaced by its
    masked form wherever it appears (also inside a longer word or an encoded form)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, mask_webhook_url(secret) if "://" in secret else MASK)
    text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    return _BEARER_IN_TEXT.sub(lambda m: f"{m.group(1)} {MASK}", text)


def webhook_secrets(url: str) -> tuple[str, ...]:
    """The parts of a webhook URL that must not appear in a text: the URL itself, its path
    and query (an error may quote either alone), and its credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    found = [url, parts.query, parts.password or "", parts.username or ""]
    if parts.path.strip("/"):
        found.append(parts.path)
    return tuple(s for s in found if s)
