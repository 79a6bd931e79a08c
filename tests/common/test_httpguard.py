"""The HTTP guards on a small app, and wired into the API (no Elasticsearch needed: the routes
probed answer before they would reach it, or do not need it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.auth import SESSION_COOKIE
from services.common.httpguard import (
    CSRF_COOKIE,
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    BodyLimit,
    CsrfGuard,
    HostAllowList,
    RateLimit,
    RateRule,
    allowed_host_names,
    client_key,
    split_host,
)
from services.search.settings import SearchSettings
from tests.support import LOCAL_BASE_URL, TEST_CSRF_TOKEN, as_page_of, local_client


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"bytes": size}

    @app.post("/big/echo")
    async def big(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/search")
    def search() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/free")
    def free() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def api() -> Iterator[TestClient]:
    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app, raise_server_exceptions=False) as client:
        yield client


# ---- Host allow-list ---------------------------------------------------------------------------


def test_host_names_are_compared_without_port_brackets_or_case() -> None:
    assert split_host("[::1]:8080") == ("::1", "8080")
    assert split_host("LocalHost.:8080") == ("localhost", "8080")
    assert split_host("example.org") == ("example.org", "")
    hosts = allowed_host_names([], "0.0.0.0", ["https://news.example.org"])
    assert hosts == {"localhost", "127.0.0.1", "::1", "news.example.org"}
    assert "10.0.0.5" in allowed_host_names([], "10.0.0.5")
    assert allowed_host_names(["a.example", "b.example:80"], "127.0.0.1") == {
        "a.example",
        "b.example",
    }


def test_a_forged_host_is_refused_with_421_naming_the_setting(api: TestClient) -> None:
    response = api.get("/healthz", headers={"Host": "rebind.attacker.example:8080"})
    assert response.status_code == 421
    assert "CWATCH_API_ALLOWED_HOSTS" in response.json()["detail"]
    assert "rebind.attacker.example" in response.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost"])
def test_local_names_are_served_by_default(api: TestClient, host: str) -> None:
    assert api.get("/healthz", headers={"Host": host}).status_code == 200


def test_the_public_host_behind_a_proxy_is_served() -> None:
    settings = SearchSettings(api_public_origins=["https://news.example.org"])
    app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))
    with TestClient(app, base_url="https://news.example.org") as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 421


def test_star_turns_the_host_check_off() -> None:
    app = HostAllowList(_echo_app(), ["*"], "X")
    with TestClient(app, base_url="http://anything.example") as client:
        assert client.get("/free").status_code == 200


# ---- CSRF --------------------------------------------------------------------------------------


def test_the_csrf_cookie_is_set_readable_and_strict(api: TestClient) -> None:
    api.cookies.clear()
    response = api.get("/healthz")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "SameSite=Strict" in cookie and "HttpOnly" not in cookie
    assert len(response.cookies[CSRF_COOKIE]) >= 40
    # a request that has the cookie does not get a new one
    assert "set-cookie" not in api.get("/healthz").headers


def test_a_same_origin_request_with_the_token_passes_the_guard(api: TestClient) -> None:
    # 400 from the route itself (an empty body), not 403 from the guard
    assert api.post("/v1/subscriptions", content=b"{}").status_code != 403


def test_an_html_form_of_the_api_itself_may_send_the_token_as_a_field() -> None:
    app = BodyLimit(CsrfGuard(_echo_app()), 1000, "CWATCH_TEST_MAX")
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        client.cookies.set(CSRF_COOKIE, TEST_CSRF_TOKEN)
        origin = {"Origin": LOCAL_BASE_URL}
        form = {"user": "ana", CSRF_FORM_FIELD: TEST_CSRF_TOKEN}
        sent = client.post("/echo", data=form, headers=origin)
        assert sent.status_code == 200
        assert sent.json() == {"bytes": len("user=ana&csrf_token=" + TEST_CSRF_TOKEN)}  # replayed
        wrong = client.post("/echo", data={**form, CSRF_FORM_FIELD: "guess"}, headers=origin)
        assert wrong.status_code == 403
        big = client.post("/echo", data={**form, "x": "y" * 2000}, headers=origin)
        assert big.status_code == 413  # the form is read under the body limit


def test_an_odd_cookie_of_another_local_app_does_not_hide_the_token() -> None:
    app = CsrfGuard(_echo_app())
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        cookie = f'prefs={{"theme":"dark"}}; {CSRF_COOKIE}={TEST_CSRF_TOKEN}; draft="unclosed'
        headers = {"Origin": LOCAL_BASE_URL, CSRF_HEADER: TEST_CSRF_TOKEN, "Cookie": cookie}
        assert client.post("/echo", headers=headers).status_code == 200


def test_a_cross_origin_request_is_refused(api: TestClient) -> None:
    response = api.post("/v1/subscriptions/x/pause", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "cross-origin" in response.json()["detail"]
    # another port of the same machine is another origin
    other = api.post("/v1/subscriptions/x/pause", headers={"Origin": "http://127.0.0.1:5555"})
    assert other.status_code == 403


def test_a_form_post_without_the_token_is_refused() -> None:
    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9"))
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        client.cookies.set(CSRF_COOKIE, TEST_CSRF_TOKEN)  # SameSite lets it through same-site
        client.cookies.set(SESSION_COOKIE, "a-logged-in-browser")  # what a forgery abuses
        form = client.post(
            "/v1/subscriptions/x/pause",
            data={"a": "b"},
            headers={"Origin": LOCAL_BASE_URL},
        )
        assert form.status_code == 403
        assert CSRF_HEADER in form.json()["detail"]
        wrong = client.post(
            "/v1/subscriptions/x/pause",
            headers={"Origin": LOCAL_BASE_URL, CSRF_HEADER: "guessed"},
        )
        assert wrong.status_code == 403


def test_without_origin_the_referer_decides_and_without_either_it_is_refused() -> None:
    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9"))
    plain = TestClient(app, base_url=LOCAL_BASE_URL, raise_server_exceptions=False)
    with as_page_of(plain) as client:
        client.cookies.set(SESSION_COOKIE, "a-logged-in-browser")
        del client.headers["Origin"]
        assert client.delete("/v1/subscriptions/x").status_code == 403
        foreign = client.delete("/v1/subscriptions/x", headers={"Referer": "http://evil.example/"})
        assert foreign.status_code == 403
        own = client.delete("/v1/subscriptions/x", headers={"Referer": f"{LOCAL_BASE_URL}/ui/"})
        assert own.status_code != 403
        assert client.delete("/v1/subscriptions/x", headers={"Origin": "null"}).status_code == 403


def test_a_request_without_any_credential_is_left_to_authentication_unless_foreign() -> None:
    # No session cookie: nothing a forged request could abuse; the route answers 401. A foreign
    # Origin is still refused (a login forged by another site).
    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9"))
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        assert client.delete("/v1/subscriptions/x").status_code == 401
        foreign = client.post("/v1/auth/login", headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403


def test_a_request_with_an_authorization_header_is_left_to_authentication() -> None:
    app = CsrfGuard(_echo_app())
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        assert client.post("/echo", headers={"Authorization": "Bearer t"}).status_code == 200
        assert client.post("/echo").status_code == 403


def test_without_token_mode_only_a_foreign_origin_is_refused() -> None:
    app = CsrfGuard(_echo_app(), require_token=False)
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        assert client.post("/echo", content=b"x").status_code == 200  # a script
        assert client.post("/echo", headers={"Origin": "http://evil.example"}).status_code == 403
        assert "set-cookie" not in client.get("/free").headers


def test_a_public_origin_is_trusted() -> None:
    app = CsrfGuard(_echo_app(), trusted_origins=["https://news.example.org"])
    with TestClient(app, base_url=LOCAL_BASE_URL) as client:
        client.cookies.set(CSRF_COOKIE, "t" * 20)
        headers = {"Origin": "https://news.example.org", CSRF_HEADER: "t" * 20}
        assert client.post("/echo", headers=headers).status_code == 200


def test_cors_is_closed_unless_configured(api: TestClient) -> None:
    preflight = {
        "Origin": "https://other.example",
        "Access-Control-Request-Method": "POST",
    }
    closed = api.options("/v1/subscriptions", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    settings = SearchSettings(api_cors_origins=["https://other.example"])
    app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app) as client:
        opened = client.options("/v1/subscriptions", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://other.example"
        assert "access-control-allow-credentials" not in opened.headers


# ---- body size ---------------------------------------------------------------------------------


def _limited() -> TestClient:
    app = BodyLimit(_echo_app(), 1000, "CWATCH_TEST_MAX", {"/big/": (5000, "CWATCH_TEST_BIG")})
    return TestClient(app, base_url=LOCAL_BASE_URL)


def _chunks(total: int, size: int = 100) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


def test_a_declared_body_over_the_limit_is_413_naming_the_setting() -> None:
    with _limited() as client:
        response = client.post("/echo", content=b"x" * 1001)
        assert response.status_code == 413
        assert "1000 bytes" in response.json()["detail"]
        assert "CWATCH_TEST_MAX" in response.json()["detail"]
        assert client.post("/echo", content=b"x" * 1000).json() == {"bytes": 1000}


@pytest.mark.parametrize("path", ["/echo", "/stream"])
def test_a_chunked_body_without_content_length_is_counted_as_it_streams(path: str) -> None:
    with _limited() as client:
        response = client.post(path, content=_chunks(3000))
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, response.text
        assert "1000 bytes" in response.json()["detail"]
        assert client.post(path, content=_chunks(900)).json() == {"bytes": 900}


def test_a_route_with_a_larger_limit_takes_it() -> None:
    with _limited() as client:
        assert client.post("/big/echo", content=b"x" * 4000).json() == {"bytes": 4000}
        assert client.post("/big/echo", content=_chunks(6000)).status_code == 413


def test_the_api_refuses_a_large_body_on_every_route(api: TestClient) -> None:
    huge = b"x" * (SearchSettings().api_max_body_bytes + 1)
    for path in ("/v1/subscriptions", "/v1/subscriptions/x/pause", "/healthz"):
        assert api.post(path, content=huge).status_code == 413, path
    chunked = api.post("/v1/subscriptions", content=_chunks(2 * len(huge), 64 * 1024))
    assert chunked.status_code == 413


# ---- rate limits -------------------------------------------------------------------------------


def test_over_the_rate_a_client_gets_429_with_retry_after() -> None:
    rule = RateRule("search", [r"/search$"], "3/minute", "CWATCH_TEST_RATE")
    with TestClient(RateLimit(_echo_app(), [rule]), base_url=LOCAL_BASE_URL) as client:
        assert [client.get("/search").status_code for _ in range(3)] == [200] * 3
        refused = client.get("/search")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "3/minute" in refused.json()["detail"]
        assert "CWATCH_TEST_RATE" in refused.json()["detail"]
        assert client.get("/free").status_code == 200  # other routes are not counted
        # another credential is another client
        other = client.get("/search", headers={"Authorization": "Bearer someone-else"})
        assert other.status_code == 200


def test_clients_are_keyed_by_token_then_session_then_address() -> None:
    def scope(headers: list[tuple[bytes, bytes]]) -> dict:  # type: ignore[type-arg]
        return {"type": "http", "headers": headers, "client": ("10.0.0.9", 5000)}

    by_token = client_key(scope([(b"authorization", b"Bearer abc")]))
    by_session = client_key(scope([(b"cookie", b"cwatch_session=s1")]))
    assert by_token.startswith("token:") and "abc" not in by_token
    assert by_session.startswith("session:") and "s1" not in by_session
    assert client_key(scope([])) == "addr:10.0.0.9"


def test_the_api_limits_searches_per_client() -> None:
    settings = SearchSettings(api_rate_search="2/minute")
    app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app, raise_server_exceptions=False) as client:
        for _ in range(2):
            client.get("/v1/search", params={"q": "("})  # 400: a bad query, counted all the same
        refused = client.get("/v1/search", params={"q": "x"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert client.get("/ui/v1/search", params={"q": "x"}).status_code == 429


def test_open_streams_per_client_are_capped() -> None:
    import anyio

    release = anyio.Event()
    started = 0

    async def slow(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        nonlocal started
        started += 1
        await release.wait()

    rule = RateRule("live", [r"/live$"], "100/minute", "R", concurrent=2, concurrent_setting="C")
    guard = RateLimit(slow, [rule])
    answers: list[int] = []

    async def call() -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/live",
            "headers": [],
            "client": ("a", 1),
        }

        async def receive() -> dict:  # type: ignore[type-arg]
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                answers.append(message["status"])

        await guard(scope, receive, send)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            group.start_soon(call)
            await anyio.sleep(0.05)
            await call()  # the third is refused at once
            assert answers == [429] and started == 2
            release.set()
        assert guard.open == {}  # closed streams free their slots
        await call()  # a new one is allowed again (release is set: it returns at once)
        assert started == 3

    # In a thread of its own: a browser test of the same session may hold this thread's loop.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and not errors, errors
