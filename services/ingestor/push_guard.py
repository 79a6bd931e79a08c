"""Who may push, and as which source (`POST /v1/articles`).

A push needs an editor's API token (the same tokens as the API, read from the shared account
store). Its source identity (name, country, language, affiliation) comes from a source an
editor registered (`cwatch sources add`), named by `?source=` or the `X-Cwatch-Source` header,
never from the request body; without one the articles are labelled `push:<user>` and carry no
affiliation. No push may carry a URL on the site of another registered source: its article id
would mark that source's real article as already seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from schemas.common import SourceInfo, SourceKind
from services.common.auth.authenticator import Authenticator
from services.common.auth.credentials import Kind
from services.common.auth.models import LOCAL, Principal
from services.common.auth.roles import Role, allows
from services.ingestor.sources import SourceEntry


class PushRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def site_of(url: str | None) -> str | None:
    """The host a URL belongs to, without `www.`, lower case (None when there is none)."""
    try:
        host = urlsplit(url or "").hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def same_site(host: str, site: str) -> bool:
    return host == site or host.endswith("." + site)


@dataclass
class PushGuard:
    authenticator: Authenticator | None  # None: the explicit local mode without accounts
    sources: Callable[[], list[SourceEntry]]

    def principal(
        self, authorization: str | None, kinds: tuple[Kind, ...] = (Kind.TOKEN,)
    ) -> Principal:
        """The editor behind `authorization`. `kinds`: the credentials accepted (a web
        session too where the API forwards its user's view, e.g. source health)."""
        if self.authenticator is None:
            return LOCAL
        scheme, _, value = (authorization or "").partition(" ")
        principal = (
            self.authenticator.principal(value.strip(), kinds)
            if scheme.lower() == "bearer"
            else None
        )
        if principal is None:
            raise PushRefused(401, "send an editor's API token: Authorization: Bearer cwt_...")
        if not allows(principal.role, Role.EDITOR):
            raise PushRefused(403, "pushing articles needs the editor role or higher")
        return principal

    def source(self, name: str | None, principal: Principal) -> SourceInfo:
        if not name:
            return SourceInfo(name=f"push:{principal.user}"[:300], kind=SourceKind.PUSH)
        for entry in self.sources():
            if entry.name == name:
                return SourceInfo(
                    name=entry.name,
                    kind=SourceKind.PUSH,
                    url=entry.url or None,
                    country=entry.country,
                    language=entry.language,
                    affiliation=entry.affiliation,
                )
        raise PushRefused(
            422,
            f"no registered source named {name[:300]!r}: an editor registers it with "
            "`cwatch sources add` (its country and affiliation come from there)",
        )

    def check_urls(self, source: SourceInfo, urls: list[str | None]) -> None:
        own = site_of(source.url) if source.kind == SourceKind.PUSH and source.url else None
        others = {
            site
            for entry in self.sources()
            if entry.name != source.name and (site := site_of(entry.url)) and site != own
        }
        for url in urls:
            host = site_of(url)
            if host is None:
                continue
            if any(same_site(host, site) for site in others) and not (own and same_site(host, own)):
                raise PushRefused(
                    403,
                    f"{str(url)[:200]!r} is on the site of another registered source: push it "
                    "as that source (?source=NAME), or let the poller fetch it",
                )
