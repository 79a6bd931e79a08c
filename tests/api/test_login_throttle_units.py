"""The failed-login policy, pure: how many attempts a key gets, how long it then waits, when it
starts over; and the login route's per-address flood guard (no Elasticsearch: it answers first).
Against the real store through the API: test_login_throttle_integration.py."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from services.api.app import create_app
from services.common.auth.throttle import (
    ACCOUNT,
    ADDRESS,
    Policy,
    Tally,
    counted,
    key_id,
    refunded,
    retry_after,
)
from services.search.settings import SearchSettings
from tests.support import local_client

POLICY = Policy(free=3, base_s=30.0, max_s=300.0, forget_s=3600.0)


def _fail(times: int, start: float = 1000.0, gap_s: float = 0.0) -> tuple[Tally, float]:
    tally, now = Tally(), start
    for _ in range(times):
        assert retry_after(tally, POLICY, now) == 0.0
        tally = counted(tally, POLICY, now)
        now += gap_s
    return tally, now


def test_the_free_attempts_go_ahead_at_once() -> None:
    tally, now = _fail(2)
    assert tally.failures == 2 and retry_after(tally, POLICY, now) == 0.0


def test_then_each_attempt_waits_twice_as_long_as_the_last_up_to_the_cap() -> None:
    waits = []
    tally, now = Tally(), 1000.0
    for _ in range(10):
        now += retry_after(tally, POLICY, now)  # the guesser waits exactly as told
        tally = counted(tally, POLICY, now)
        waits.append(retry_after(tally, POLICY, now))
    assert waits == [0, 0, 30, 60, 120, 240, 300, 300, 300, 300]


def test_the_wait_runs_from_the_last_attempt_and_shrinks_as_time_passes() -> None:
    tally, now = _fail(3)
    assert retry_after(tally, POLICY, now + 10) == pytest.approx(20.0)
    assert retry_after(tally, POLICY, now + 30) == 0.0


def test_a_quiet_key_is_forgotten_and_starts_over() -> None:
    tally = Tally(8, 1000.0)
    later = 1000.0 + POLICY.forget_s
    assert retry_after(tally, POLICY, later) == 0.0
    assert counted(tally, POLICY, later) == Tally(1, later)


def test_a_thousand_failures_wait_the_cap_and_do_not_overflow() -> None:
    assert POLICY.wait_s(10_000) == POLICY.max_s


def test_a_success_gives_its_attempt_back_and_never_goes_below_zero() -> None:
    assert refunded(Tally(4, 5.0)) == Tally(3, 5.0)
    assert refunded(Tally(0, 5.0)) == Tally(0, 5.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free": 0},
        {"base_s": 0},
        {"base_s": 60, "max_s": 30},
        {"max_s": 900, "forget_s": 900},
    ],
)
def test_a_policy_that_would_never_let_anyone_in_or_never_forget_is_refused(
    kwargs: dict[str, float],
) -> None:
    with pytest.raises(ValueError):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_stored_keys_never_hold_what_was_typed() -> None:
    typed = "my secret password typed as the user name"
    stored = key_id(ACCOUNT, typed)
    assert typed not in stored and len(stored) == 40
    assert key_id(ADDRESS, "10.0.0.1") != key_id(ACCOUNT, "10.0.0.1")


def test_the_login_route_has_a_per_address_flood_guard_whatever_token_is_sent() -> None:
    # A made-up bearer per request must not earn a fresh limit: logins are counted by address.
    settings = SearchSettings(api_rate_login="2/minute")
    app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app, raise_server_exceptions=False) as client:
        for n in range(2):
            client.post(
                "/v1/auth/login",
                json={"username": "x", "password": "y"},
                headers={"Authorization": f"Bearer made-up-{n}"},
            )  # 503: no store at that address; counted all the same
        refused = client.post(
            "/v1/auth/login",
            json={"username": "x", "password": "y"},
            headers={"Authorization": "Bearer made-up-3"},
        )
        assert refused.status_code == 429 and "CWATCH_API_RATE_LOGIN" in refused.text
        assert int(refused.headers["Retry-After"]) >= 1
