"""Every route of the API x every role: 401 without a credential, 403 below the route's role,
an answer (not 401/403, never a 5xx) at or above it. The table below must name every route the
app serves with the role it declares: a route added without `require(...)` / `OPEN`, or left
out of this table, fails here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch

from services.alerts.emailmsg import link_token
from services.api.app import create_app
from services.api.auth import declared_role, role_name, routes_of
from services.common.auth.roles import Role
from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.search.conftest import corpus, index_reports
from tests.support import api_token, bearer, drop_namespace_indices

OPEN = "none (open)"
ROLES = ("viewer", "editor", "admin")
RANK = {OPEN: -1, "viewer": 0, "editor": 1, "admin": 2}

# (method, path) -> the role it needs. Path parameters are filled per caller by `Fixture.path`.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/"): OPEN,
    ("GET", "/ui/"): OPEN,
    ("GET", "/ui/static/{name}"): OPEN,
    ("POST", "/v1/auth/login"): OPEN,
    ("GET", "/metrics"): "admin",
    ("GET", "/openapi.json"): "viewer",
    ("GET", "/docs"): "viewer",
    ("GET", "/v1/search"): "viewer",
    ("GET", "/v1/facets"): "viewer",
    ("GET", "/v1/reports/{report_id}"): "viewer",
    ("GET", "/v1/reports/{report_id}/similar"): "viewer",
    ("GET", "/ui/v1/search"): "viewer",
    ("GET", "/ui/v1/story/{story_id}"): "viewer",
    ("GET", "/ui/v1/overview"): "viewer",
    ("GET", "/v1/live"): "viewer",
    ("POST", "/v1/subscriptions"): "viewer",
    ("GET", "/v1/subscriptions"): "viewer",
    ("GET", "/v1/subscriptions/{sub_id}"): "viewer",
    ("PATCH", "/v1/subscriptions/{sub_id}"): "viewer",
    ("POST", "/v1/subscriptions/{sub_id}/pause"): "viewer",
    ("POST", "/v1/subscriptions/{sub_id}/resume"): "viewer",
    ("DELETE", "/v1/subscriptions/{sub_id}"): "viewer",
    ("GET", "/v1/subscriptions/{sub_id}/deliveries"): "viewer",
    ("GET", "/v1/subscriptions/{sub_id}/stream"): "viewer",
    ("POST", "/v1/auth/logout"): "viewer",
    ("GET", "/v1/auth/me"): "viewer",
    ("POST", "/v1/auth/password"): "viewer",
    ("GET", "/v1/tokens"): "viewer",
    ("POST", "/v1/tokens"): "viewer",
    ("DELETE", "/v1/tokens/{token_id}"): "viewer",
    ("GET", "/v1/users"): "admin",
    ("POST", "/v1/users"): "admin",
    ("PATCH", "/v1/users/{name}"): "admin",
    ("POST", "/v1/users/{name}/login-link"): "admin",
    ("POST", "/v1/users/{name}/unlock"): "admin",
    ("GET", "/v1/audit"): "admin",
    ("GET", "/v1/export"): "viewer",
    ("POST", "/v1/feeds"): "viewer",
    ("GET", "/v1/feeds"): "viewer",
    ("DELETE", "/v1/feeds/{feed_id}"): "viewer",
    ("GET", "/feeds/{token}"): OPEN,  # the token in the URL is the credential
    ("POST", "/v1/saved-searches"): "viewer",
    ("GET", "/v1/saved-searches"): "viewer",
    ("GET", "/v1/saved-searches/{saved_id}"): "viewer",
    ("DELETE", "/v1/saved-searches/{saved_id}"): "viewer",
    ("GET", "/ui/v1/report/{report_id}/history"): "viewer",
    ("GET", "/ui/v1/sources"): "editor",
    # an email's signed link: the token in the URL is the credential
    ("GET", "/v1/subscriptions/{sub_id}/unsubscribe"): OPEN,
    ("POST", "/v1/subscriptions/{sub_id}/unsubscribe"): OPEN,
}
# Answer 503 here by design: the ingestor daemon whose source health they show is not running.
UPSTREAM_DOWN = {("GET", "/ui/v1/sources")}

BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", "/v1/auth/login"): lambda: {"username": "matrix-login", "password": "a long password"},
    ("POST", "/v1/subscriptions"): lambda: {"name": "m", "query": "Lachin"},
    ("PATCH", "/v1/subscriptions/{sub_id}"): lambda: {"query": "Shusha"},
    ("POST", "/v1/auth/password"): lambda: {"new": "another long password"},
    ("POST", "/v1/tokens"): lambda: {"label": "matrix"},
    ("POST", "/v1/users"): lambda: {"name": f"u{uuid.uuid4().hex[:8]}"},
    ("PATCH", "/v1/users/{name}"): lambda: {"disabled": False},
    ("POST", "/v1/users/{name}/unlock"): lambda: {},
    ("POST", "/v1/saved-searches"): lambda: {"name": "m", "query": "Lachin"},
    ("POST", "/v1/feeds"): lambda: {"target": "saved_search", "id": "no-such-search"},
}


def _app(namespace: str = "tunit") -> Any:
    return create_app(SearchSettings(namespace=namespace), es=Elasticsearch("http://127.0.0.1:9"))


def test_every_route_declares_a_role_and_is_in_the_table() -> None:
    served = {}
    for route in routes_of(_app()):
        for method in route.methods or ():
            if method != "HEAD":
                served[(method, route.path)] = role_name(declared_role(route))
    undeclared = sorted(key for key, role in served.items() if role == "undeclared")
    assert not undeclared, f"routes without a declared role (require(...) or OPEN): {undeclared}"
    assert served == ROUTES, "the table above and the routes served differ"


def test_openapi_names_each_operations_role() -> None:
    schema = _app().openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["x-cwatch-role"] == ROUTES[(method.upper(), path)]
            assert f"Role: {operation['x-cwatch-role']}." in operation["description"]
    assert schema["paths"]["/v1/search"]["get"]["security"]  # bearer or session cookie


class Fixture:
    def __init__(self, es: Elasticsearch, namespace: str, url: str) -> None:
        self.es, self.namespace, self.url = es, namespace, url
        self.tokens = {role: api_token(es, namespace, role) for role in ROLES}
        accounts = create_app(SearchSettings(namespace=namespace), es=es).state.accounts
        accounts.create_user("matrix-login", Role.VIEWER, "a long password", "tests")
        self.accounts = accounts

    def path(self, template: str, role: str | None) -> str:
        """The template with real ids, owned by the caller where that matters."""
        headers = bearer(self.tokens[role or "admin"])
        if "{sub_id}" in template:
            body: dict[str, Any] = {"query": "x"}
            if template.endswith("/unsubscribe"):  # an email's link: email subscriptions
                body["channel"] = {"kind": "email", "email": {"to": ["matrix@example.org"]}}
            created = httpx.post(f"{self.url}/v1/subscriptions", json=body, headers=headers)
            sub = created.json()
            template = template.replace("{sub_id}", sub["id"])
            if template.endswith("/unsubscribe"):
                token = link_token(sub["channel"]["secret"] or "", sub["id"], "pause")
                template += f"?action=pause&token={token}"
        if "{token_id}" in template:
            made = httpx.post(f"{self.url}/v1/tokens", json={"label": "t"}, headers=headers)
            template = template.replace("{token_id}", made.json()["id"])
        return (
            template.replace("/ui/static/{name}", "/ui/static/app.js")
            .replace("{name}", "test-viewer")
            .replace("{report_id}", "no-such-report")
            .replace("{story_id}", "no-such-story")
            .replace("{feed_id}", "no-such-feed")
            .replace("{saved_id}", "no-such-search")
            .replace("{token}", "no-such-token")
        )

    def status(self, method: str, template: str, role: str | None) -> int:
        body = BODIES.get((method, template))
        headers = bearer(self.tokens[role]) if role else {}
        path = self.path(template, role)
        with httpx.stream(
            method,
            f"{self.url}{path}",
            json=body() if body else None,
            headers=headers,
            timeout=30,
            follow_redirects=False,
        ) as response:
            return response.status_code  # streams (SSE) are closed without reading them


@pytest.fixture(scope="module")
def matrix(real_services: None, common_settings: Any) -> Iterator[Fixture]:
    es = Elasticsearch(common_settings.elasticsearch_url)
    namespace = f"t{uuid.uuid4().hex[:8]}"
    settings = SearchSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
    )
    app = create_app(settings, es=es)
    try:
        index_reports(es, IndexerSettings(namespace=namespace), corpus())
        with serve(app) as url:
            yield Fixture(es, namespace, url)
        app.state.alerts.hub.stop()
    finally:
        drop_namespace_indices(es, namespace)


CASES = [(m, p, role) for (m, p) in ROUTES for role in (None, *ROLES)]


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path", "role"), CASES)
def test_route_answers_by_role(matrix: Fixture, method: str, path: str, role: str | None) -> None:
    need = ROUTES[(method, path)]
    status = matrix.status(method, path, role)
    if need != OPEN and role is None:
        assert status == 401, f"{method} {path} without a credential: {status}"
    elif need != OPEN and RANK[role or OPEN] < RANK[need]:
        assert status == 403, f"{method} {path} as {role} (needs {need}): {status}"
    elif (method, path) in UPSTREAM_DOWN:
        assert status == 503, f"{method} {path} as {role}: {status}"
    else:
        assert status not in (401, 403) and status < 500, f"{method} {path} as {role}: {status}"
