"""Failed logins against the real Elasticsearch through two API instances: the tally is shared,
a made-up name is answered exactly like a real one, concurrent guesses do not slip through,
an address guessing many names waits too, and an admin (API or `cwatch users unlock`) ends a
wait. The policy itself: test_login_throttle_units.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.alerts.settings import AlertsSettings
from services.api.app import create_app
from services.cli import main
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.support import api_token, bearer

pytestmark = pytest.mark.integration

PASSWORD = "the right long password"


def _apis(
    namespace: str, es_client: Any, common_settings: Any, per_account: int, per_address: int
) -> list[Any]:
    settings = SearchSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
        api_login_failures=per_account,
        api_login_address_failures=per_address,
        api_rate_login="10000/minute",
    )
    alerts = AlertsSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
    )
    return [create_app(settings, es_client, alerts) for _ in range(2)]


@pytest.fixture
def serving(namespace: str, es_client: Any, common_settings: Any) -> Iterator[Any]:
    """serving(per_account, per_address) -> the URLs of two API instances on one store."""
    started: list[Any] = []
    stack: list[Any] = []

    def start(per_account: int, per_address: int) -> list[str]:
        apps = _apis(namespace, es_client, common_settings, per_account, per_address)
        started.extend(apps)
        urls = []
        for app in apps:
            server = serve(app)
            urls.append(server.__enter__())
            stack.append(server)
        return urls

    yield start
    for server in reversed(stack):
        server.__exit__(None, None, None)
    for app in started:
        app.state.alerts.hub.stop()


def _login(url: str, name: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/auth/login", json={"username": name, "password": password}, timeout=60
    )


def _answers(urls: list[str], name: str, tries: int) -> list[tuple[int, str, bool]]:
    """(status, detail, has Retry-After) of `tries` wrong passwords, alternating instances; the
    seconds left, which run down as the test goes, read N."""
    out = []
    for n in range(tries):
        got = _login(urls[n % 2], name, "a wrong long password")
        detail = re.sub(r"\d+", "N", got.json()["detail"])
        out.append((got.status_code, detail, "retry-after" in got.headers))
    return out


def test_failed_logins_wait_on_every_instance_and_a_made_up_name_is_answered_the_same(
    serving: Any, namespace: str, es_client: Any
) -> None:
    urls = serving(3, 1000)
    admin = httpx.Client(
        base_url=urls[0], headers=bearer(api_token(es_client, namespace, "admin")), timeout=60
    )
    made = admin.post("/v1/users", json={"name": "erin", "password": PASSWORD})
    assert made.status_code == 201, made.text

    real = _answers(urls, "erin", 5)
    made_up = _answers(urls, "nobody-here", 5)
    assert [status for status, _, _ in real] == [401, 401, 401, 429, 429]
    assert made_up == real  # the same statuses, words and headers: nothing tells them apart
    locked = _login(urls[1], "erin", PASSWORD)
    assert locked.status_code == 429  # the right password is refused too while erin waits
    assert 1 <= int(locked.headers["Retry-After"]) <= 30

    listed = {u["name"]: u for u in admin.get("/v1/users").json()["users"]}
    assert 0 < listed["erin"]["login_wait_s"] <= 30
    unlocked = admin.post("/v1/users/erin/unlock", json={})
    assert unlocked.status_code == 200 and unlocked.json()["cleared"] is True
    assert _login(urls[1], "erin", PASSWORD).status_code == 200
    assert admin.post("/v1/users/nobody-here/unlock", json={}).status_code == 404

    entries = admin.get("/v1/audit", params={"action": "login", "size": 1000}).json()["entries"]
    throttled = sorted(e["actor"] for e in entries if e["outcome"] == "throttled")
    assert throttled == ["erin", "erin", "erin", "nobody-here", "nobody-here"]
    unlock = admin.get("/v1/audit", params={"action": "login.unlock"}).json()["entries"]
    assert [(e["actor"], e["target"]) for e in unlock] == [("test-admin", "erin")]


def test_concurrent_guesses_at_one_account_get_only_the_free_attempts(
    serving: Any, namespace: str, es_client: Any
) -> None:
    urls = serving(3, 1000)
    token = api_token(es_client, namespace, "viewer", "frank")
    assert token  # frank exists (without a password: every guess is wrong)
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(
            pool.map(lambda n: _login(urls[n % 2], "frank", f"guess number {n:04}").status_code,
                     range(12))
        )  # fmt: skip
    assert statuses == [401] * 3 + [429] * 9


def test_one_address_guessing_many_names_or_links_waits_until_unlocked(
    serving: Any,
    namespace: str,
    es_client: Any,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = serving(1000, 4)
    statuses = [_login(urls[n % 2], f"name-{n}", "a wrong long password").status_code
                for n in range(3)]  # fmt: skip
    bad_link = "cwl_0123456789ab_" + "A" * 43
    link = httpx.post(f"{urls[0]}/v1/auth/login", json={"link": bad_link}, timeout=60)
    statuses.append(link.status_code)
    assert statuses == [401, 401, 401, 401]
    again = httpx.post(f"{urls[1]}/v1/auth/login", json={"link": bad_link}, timeout=60)
    assert again.status_code == 429 and "Retry-After" in again.headers
    assert _login(urls[0], "yet-another-name", "a wrong long password").status_code == 429

    monkeypatch.setenv("ELASTICSEARCH_URL", es_url)
    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    assert main(["users", "unlock", "--address", "127.0.0.1"]) == 0
    assert json.loads(capsys.readouterr().out)["cleared"] is True
    assert _login(urls[0], "yet-another-name", "a wrong long password").status_code == 401
    assert main(["users", "unlock"]) == 1  # names nothing


def test_a_stolen_session_or_token_cannot_guess_the_password_past_the_throttle(
    serving: Any, namespace: str, es_client: Any
) -> None:
    urls = serving(2, 1000)
    token = bearer(api_token(es_client, namespace, "viewer", "gina"))
    assert (
        httpx.post(f"{urls[0]}/v1/auth/password", json={"new": PASSWORD}, headers=token)
    ).status_code == 200  # no password yet: none to give
    statuses = [
        httpx.post(
            f"{urls[n % 2]}/v1/auth/password",
            json={"current": f"guess {n} of the password", "new": "another long password"},
            headers=token,
            timeout=60,
        ).status_code
        for n in range(3)
    ]
    assert statuses == [403, 403, 429]
    assert _login(urls[0], "gina", PASSWORD).status_code == 429  # the same tally as logins


def test_tallies_nobody_added_to_for_the_forget_time_are_deleted(
    es_client: Any, namespace: str
) -> None:
    from services.common.auth.attempts import Attempts
    from services.common.auth.throttle import ACCOUNT, Policy, key_id

    now = [1_000_000.0]
    attempts = Attempts(es_client, f"{namespace}-cwatch", clock=lambda: now[0])
    policy = Policy()
    assert attempts.begin(ACCOUNT, "made-up-name", policy) == 0.0
    attempts.begin(ACCOUNT, "fresh-name", policy)
    now[0] += policy.forget_s - 1
    assert attempts.begin(ACCOUNT, "fresh-name", policy) == 0.0
    now[0] += 2  # made-up-name is forgotten now; fresh-name was tried 2 s ago
    assert attempts.prune(policy.forget_s, batch=1) == 1
    es_client.indices.refresh(index=attempts.index)
    hits = es_client.search(index=attempts.index, size=10)["hits"]["hits"]
    assert {h["_id"] for h in hits} == {key_id(ACCOUNT, "fresh-name")}
