"""Pure logic of alerts: subscription checks, search bodies, de-duplication, signatures, backoff."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.alert import Alert
from services.alerts.app import RoundPacer, gather_round
from services.alerts.dedup import StoryState, decide, due_digests, keys_for, state_key
from services.alerts.delivery import backoff_delay, sign, verify
from services.alerts.dispatch import pending_webhooks
from services.alerts.matcher import Match, QueryCache, group_body, match, search_body
from services.alerts.models import Channel, Filters, Mode, Subscription, apply_update
from services.common.netguard import BlockedAddress, NetPolicy
from services.query.bodies import build_query
from services.query.params import SearchParams
from services.query.syntax import QueryError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _match(sub: str, report: str, story: str) -> Match:
    return Match(sub, report, story, headline=f"h {report}", ingested_at="2026-11-23T08:59:59Z")


def test_search_body_is_the_search_query_plus_an_ids_filter() -> None:
    sub = Subscription(
        query="ceasefire OR shelling", filters=Filters(lang=["ru"], event=["armed_clash"])
    )
    body = search_body(sub, ["a", "b"], NOW)
    expected = build_query(
        SearchParams(q="ceasefire OR shelling", languages=["ru"], event_types=["armed_clash"]), NOW
    )
    expected["bool"]["filter"].append({"ids": {"values": ["a", "b"]}})
    assert body["query"] == expected
    assert body["size"] == 2


def test_grouped_search_uses_each_subscriptions_search_query_as_a_filter() -> None:
    subs = [
        Subscription(query="ceasefire", filters=Filters(lang=["ru"])),
        Subscription(query="Shusha", filters=Filters(since="7d")),
    ]
    cache = QueryCache()
    pairs = [(f"q{i}", cache.get(s, NOW)[0]) for i, s in enumerate(subs)]
    body = group_body(pairs, ["r1"])
    named = body["aggs"]["subs"]["filters"]["filters"]
    ceasefire = SearchParams(q="ceasefire", languages=["ru"])
    assert named["q0"] == build_query(ceasefire, NOW, scoring=False)
    assert named["q1"] == build_query(SearchParams(q="Shusha", since="7d"), NOW, scoring=False)
    assert body["query"] == {"ids": {"values": ["r1"]}}


def test_a_matching_query_is_the_search_query_without_what_only_ranks() -> None:
    params = SearchParams(q='ceasefire -"Shusha" OR lachin*', languages=["ru"], relevant=True)
    ranked = build_query(params, NOW)
    matching = build_query(params, NOW, scoring=False)
    (text,) = ranked["bool"]["must"]
    # the typed clause is optional beside its `must`: it adds to scores, never to matches
    assert set(text["bool"]) == {"must", "should"}
    assert matching["bool"]["must"] == [{"bool": {"must": text["bool"]["must"]}}]
    assert matching["bool"]["filter"] == ranked["bool"]["filter"]
    empty = SearchParams(q="", languages=["ru"])
    assert build_query(empty, NOW, scoring=False) == build_query(empty, NOW)


def test_query_cache_does_not_rebuild_parameters_of_an_unchanged_subscription() -> None:
    cache = QueryCache()
    sub = Subscription(query="ceasefire")
    first = cache.get(sub, NOW)
    built = 0
    original = Subscription.search_params

    def counted(self: Subscription) -> SearchParams:
        nonlocal built
        built += 1
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Subscription, "search_params", counted)
        assert cache.get(sub, NOW) == first
    assert built == 0


def test_query_cache_rebuilds_after_an_update_and_for_time_filters() -> None:
    cache = QueryCache()
    sub = Subscription(query="ceasefire")
    first = cache.get(sub, NOW)
    assert cache.get(sub, NOW) is not None and cache.get(sub, NOW)[1] == first[1]
    changed = apply_update(sub, {"query": "shelling"})
    assert cache.get(changed, NOW)[1] != first[1]
    timed = Subscription(query="x", filters=Filters(since="1h"))
    later = NOW + timedelta(hours=2)
    assert cache.get(timed, NOW)[1] != cache.get(timed, later)[1]


def test_invalid_query_is_refused_with_the_search_message() -> None:
    with pytest.raises(QueryError, match="not closed"):
        Subscription(query='"peace treaty').check(NOW)
    with pytest.raises(QueryError, match="affiliation"):
        Subscription(filters=Filters(affiliation=["martian"])).check(NOW)


def test_webhook_channel_needs_an_http_url_and_gets_a_secret() -> None:
    with pytest.raises(ValidationError):
        Channel(kind="webhook")
    with pytest.raises(ValidationError):
        Channel(kind="webhook", url="file:///etc/passwd")
    channel = Channel(kind="webhook", url="https://example.org/hook")
    assert channel.secret and len(channel.secret) >= 32


def test_public_view_hides_the_secret_and_an_unchanged_url_keeps_it() -> None:
    sub = Subscription(
        channel=Channel(kind="webhook", url="https://example.org/h", secret="s" * 20)
    )
    assert sub.public()["channel"]["secret"] == "***"
    same = apply_update(sub, {"channel": {"url": "https://example.org/h", "secret": "***"}})
    assert same.channel.secret == "s" * 20
    assert apply_update(sub, {"filters": {"lang": ["hy"]}}).filters.languages == ["hy"]
    assert apply_update(sub, {"name": "renamed"}).channel.secret == "s" * 20


@pytest.mark.parametrize("secret", [None, "***", ""])
def test_a_new_webhook_url_gets_a_new_secret(secret: str | None) -> None:
    """Whoever holds the new URL must not receive alerts signed with the old key."""
    sub = Subscription(
        channel=Channel(kind="webhook", url="https://example.org/h", secret="s" * 20)
    )
    change: dict[str, str | None] = {"url": "https://attacker.example/h"}
    if secret is not None:
        change["secret"] = secret
    moved = apply_update(sub, {"channel": change})
    assert moved.channel.url == "https://attacker.example/h"
    assert moved.channel.secret and moved.channel.secret != "s" * 20


@pytest.mark.parametrize(
    ("url", "shown"),
    [  # services/common/redact.mask_webhook_url: scheme, host and port, nothing of the rest
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/***"),
        ("https://discord.com/api/webhooks/123/tok3n", "https://discord.com/***"),
        ("https://user:pw@example.org/hook?token=abc", "https://***@example.org/***"),
        ("http://127.0.0.1:8080/h", "http://127.0.0.1:8080/***"),
        ("https://example.org", "https://example.org"),
    ],
)
def test_webhook_urls_are_shown_without_the_parts_that_may_hold_a_secret(
    url: str, shown: str
) -> None:
    sub = Subscription(channel=Channel(kind="webhook", url=url))
    assert sub.public()["channel"]["url"] == shown
    assert "SECRET" not in str(sub.public()) and "tok3n" not in str(sub.public())
    # The masked URL sent back (a form that echoes what it was shown) changes nothing.
    kept = apply_update(sub, {"channel": {"url": shown, "secret": "***"}})
    assert kept.channel.url == url and kept.channel.secret == sub.channel.secret


def test_ten_versions_of_one_story_make_one_alert_with_a_count() -> None:
    sub = Subscription(id="s1", mode=Mode.PER_STORY)
    matches = [_match("s1", f"r{i}", "story-1") for i in range(10)]
    decision = decide(matches, {"s1": sub}, {}, NOW)
    assert len(decision.alerts) == 1
    alert, mode = decision.alerts[0]
    assert alert.count == 10 and len(alert.report_ids) == 10 and mode == "per_story"


def test_later_versions_of_an_alerted_story_raise_the_count_without_a_new_alert() -> None:
    sub = Subscription(id="s1")
    first = decide([_match("s1", "r1", "st")], {"s1": sub}, {}, NOW)
    states = {s.key: s for s in first.states}
    later = decide([_match("s1", "r2", "st"), _match("s1", "r3", "st")], {"s1": sub}, states, NOW)
    assert later.alerts == []
    assert later.states[0].count == 3


def test_a_story_merged_into_another_is_not_alerted_again_under_the_survivor() -> None:
    """Issue 20: B alerted, then merged into A; A's reports do not make a second alert, and B's
    reports seen before are not counted again under A."""
    sub = Subscription(id="s1", mode=Mode.PER_STORY)
    first = decide([_match("s1", "r1", "B")], {"s1": sub}, {}, NOW)
    assert len(first.alerts) == 1
    states = {s.key: s for s in first.states}
    families = {"A": ["A", "B"]}
    later = [_match("s1", "r1", "A"), _match("s1", "r2", "A")]
    assert set(keys_for(later, families)) == {state_key("s1", "A"), state_key("s1", "B")}
    after = decide(later, {"s1": sub}, states, NOW, families)
    assert after.alerts == []
    assert [(s.story_id, s.count, s.alerts) for s in after.states] == [("A", 2, 1)]


def test_a_story_merged_from_others_none_of_which_alerted_alerts_once() -> None:
    sub = Subscription(id="s1", mode=Mode.PER_STORY)
    decision = decide([_match("s1", "r1", "A")], {"s1": sub}, {}, NOW, {"A": ["A", "B"]})
    assert [a.story_id for a, _ in decision.alerts] == ["A"]


def test_a_digest_story_merged_into_another_sends_its_pending_reports_under_the_survivor() -> None:
    """Issue 20: B gathered reports for a digest, then merged into A; one digest goes out,
    under A, holding B's pending reports too and keeping B's window."""
    sub = Subscription(id="s1", mode=Mode.DIGEST, digest_minutes=30)
    first = decide([_match("s1", "r1", "B")], {"s1": sub}, {}, NOW)
    states = {s.key: s for s in first.states}
    families = {"A": ["A", "B"]}
    later = decide(
        [_match("s1", "r2", "A")], {"s1": sub}, states, NOW + timedelta(minutes=5), families
    )
    saved = {s.story_id: s for s in later.states}
    assert saved["B"].pending_report_ids == [] and saved["B"].pending == 0
    assert saved["A"].pending_report_ids == ["r1", "r2"] and saved["A"].pending_since == NOW
    due = due_digests(list(saved.values()), {"s1": sub}, NOW + timedelta(minutes=31))
    assert [(a.story_id, a.report_ids, a.count) for a, _ in due.alerts] == [("A", ["r1", "r2"], 2)]


def test_a_replayed_report_is_not_counted_twice() -> None:
    sub = Subscription(id="s1", mode=Mode.EVERY)
    first = decide([_match("s1", "r1", "st")], {"s1": sub}, {}, NOW)
    states = {s.key: s for s in first.states}
    again = decide([_match("s1", "r1", "st")], {"s1": sub}, states, NOW)
    assert again.alerts == [] and again.states == []


def test_every_mode_alerts_each_report_with_a_stable_id() -> None:
    sub = Subscription(id="s1", mode=Mode.EVERY)
    d1 = decide([_match("s1", "r1", "st"), _match("s1", "r2", "st")], {"s1": sub}, {}, NOW)
    d2 = decide([_match("s1", "r1", "st")], {"s1": sub}, {}, NOW)
    assert [a.report_ids for a, _ in d1.alerts] == [["r1"], ["r2"]]
    assert d1.alerts[0][0].alert_id == d2.alerts[0][0].alert_id


def test_a_per_story_alert_replayed_by_the_matcher_keeps_its_id() -> None:
    """Killed after producing, before saving its state, the matcher decides again: same id."""
    sub = Subscription(id="s1", mode=Mode.PER_STORY)
    before = decide([_match("s1", "r1", "st"), _match("s1", "r2", "st")], {"s1": sub}, {}, NOW)
    replay = decide([_match("s1", "r2", "st")], {"s1": sub}, {}, NOW + timedelta(minutes=1))
    assert before.alerts[0][0].alert_id == replay.alerts[0][0].alert_id


def test_each_webhook_alert_is_posted_once_and_never_after_it_was_delivered() -> None:
    hook = Subscription(id="s1", channel=Channel(kind="webhook", url="https://example.org/h"))
    kafka = Subscription(id="s2", channel=Channel(kind="kafka"))
    subs = {"s1": hook, "s2": kafka}

    def alert(alert_id: str, sub_id: str = "s1", count: int = 1) -> Alert:
        return Alert(
            alert_id=alert_id,
            subscription_id=sub_id,
            report_ids=["r1"],
            story_id="st",
            count=count,
            matched_at=NOW,
        )

    batch = [
        alert("a1"),
        alert("a1", count=2),  # produced again by a matcher replay: the first one is sent
        alert("a2"),  # delivered before a crash, replayed because the batch was not committed
        alert("a3", "s2"),  # not a webhook
        alert("a4", "gone"),  # deleted subscription
        alert("a5"),
    ]
    todo = pending_webhooks(batch, subs, delivered={"a2"})
    assert [(s.id, a.alert_id, a.count) for s, a in todo] == [("s1", "a1", 1), ("s1", "a5", 1)]


def test_paused_or_deleted_subscription_gets_no_alert() -> None:
    paused = Subscription(id="s1", active=False)
    assert decide([_match("s1", "r1", "st")], {"s1": paused}, {}, NOW).alerts == []
    assert decide([_match("gone", "r1", "st")], {}, {}, NOW).alerts == []


def test_digest_collects_until_its_window_passes() -> None:
    sub = Subscription(id="s1", mode=Mode.DIGEST, digest_minutes=30)
    d = decide([_match("s1", "r1", "st"), _match("s1", "r2", "st")], {"s1": sub}, {}, NOW)
    assert d.alerts == []
    pending = d.states
    assert due_digests(pending, {"s1": sub}, NOW + timedelta(minutes=10)).alerts == []
    due = due_digests(pending, {"s1": sub}, NOW + timedelta(minutes=31))
    assert len(due.alerts) == 1 and due.alerts[0][0].count == 2
    assert due.states[0].pending == 0


def test_state_key_separates_subscriptions_and_stories() -> None:
    assert state_key("a", "b") != state_key("a", "c") != state_key("b", "b")
    assert StoryState(subscription_id="a", story_id="b").key == state_key("a", "b")


def test_signature_covers_timestamp_and_body() -> None:
    ts = str(int(time.time()))
    sig = sign("secret-secret-123", ts, b'{"a":1}')
    assert sig.startswith("sha256=")
    assert verify("secret-secret-123", ts, b'{"a":1}', sig)
    assert not verify("secret-secret-123", ts, b'{"a":2}', sig)
    assert not verify("other-secret-1234", ts, b'{"a":1}', sig)
    assert not verify("secret-secret-123", str(int(ts) + 1), b'{"a":1}', sig)
    old = str(int(time.time()) - 3600)
    assert not verify("secret-secret-123", old, b"x", sign("secret-secret-123", old, b"x"))


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, 1.0, 8.0, rng) for a in range(1, 7)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/hook",
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://192.168.1.1/",
    ],
)
def test_webhook_urls_to_internal_addresses_are_refused_by_default(url: str) -> None:
    with pytest.raises(BlockedAddress):
        NetPolicy().check_url(url)


def test_loopback_allowed_only_when_settings_say_so() -> None:
    assert NetPolicy(allow_loopback=True).check_url("http://127.0.0.1:9/hook")


def test_a_failing_group_is_retried_one_query_at_a_time_so_others_still_match() -> None:
    good = Subscription(id="good", query="ceasefire")
    bad = Subscription(id="bad", query="shelling")
    bad_key = QueryCache().get(bad, NOW)[1]

    def fake(lines):  # type: ignore[no-untyped-def]
        out = []
        for body in lines[1::2]:
            if "aggs" not in body:
                out.append({"hits": {"hits": [{"_id": "r1", "_source": {"story_id": "s1"}}]}})
                continue
            filters = body["aggs"]["subs"]["filters"]["filters"]
            if any(json.dumps(q, sort_keys=True, default=str) == bad_key for q in filters.values()):
                out.append({"error": {"type": "too_many_clauses"}})
                continue
            buckets = {n: {"doc_count": 1, "ids": {"buckets": [{"key": "r1"}]}} for n in filters}
            out.append({"aggregations": {"subs": {"buckets": buckets}}})
        return out

    found = match(fake, "alias", ["r1"], [good, bad], NOW, group=10)
    assert [(m.subscription_id, m.report_id, m.story_id) for m in found] == [("good", "r1", "s1")]


class ScheduledPolls:
    """A consumer's poll over records that arrive at given times, on a clock of its own."""

    def __init__(self, arrivals: list[tuple[float, str]]) -> None:
        self.now = 0.0
        self.waiting = sorted(arrivals)
        self.polls = 0

    def clock(self) -> float:
        return self.now

    def poll(self, timeout_ms: int, room: int) -> dict[str, list[str]]:
        self.polls += 1
        due = [r for at, r in self.waiting if at <= self.now]
        if not due and self.waiting and self.waiting[0][0] <= self.now + timeout_ms / 1000:
            self.now = self.waiting[0][0]
            due = [r for at, r in self.waiting if at <= self.now]
        elif not due:
            self.now += timeout_ms / 1000
        taken = due[:room]
        self.waiting = [(at, r) for at, r in self.waiting if r not in taken]
        return {"p0": taken} if taken else {}


def test_a_match_round_waits_after_its_first_report_for_the_ones_that_follow() -> None:
    polls = ScheduledPolls([(0.05, "a"), (0.05, "b"), (0.3, "c"), (0.9, "d"), (1.5, "late")])
    assert gather_round(polls.poll, lambda: 1000, 200, polls.clock) == ["a", "b", "c", "d"]
    assert gather_round(polls.poll, lambda: 1000, 200, polls.clock) == ["late"]


def test_a_full_round_does_not_wait() -> None:
    polls = ScheduledPolls([(0.0, str(i)) for i in range(5)] + [(0.5, "next")])
    assert gather_round(polls.poll, lambda: 1000, 3, polls.clock) == ["0", "1", "2"]
    assert polls.now == 0.0


def test_rounds_are_spaced_by_their_matching_time_over_the_share_and_no_more() -> None:
    clock = [100.0]
    pacer = RoundPacer(share=0.25, max_wait_s=1.0, clock=lambda: clock[0])
    assert pacer.wait_ms() == 0  # no round yet: the first report is matched at once
    pacer.begin()
    clock[0] += 0.1  # matching took 0.1 s: the next round begins 0.4 s after this one did
    pacer.end()
    assert pacer.wait_ms() == 300
    clock[0] += 0.5  # a report arriving after that is matched at once
    assert pacer.wait_ms() == 0
    pacer.begin()
    clock[0] += 2.0  # a slow Elasticsearch: rounds space out, at most by the longest wait
    pacer.end()
    assert pacer.wait_ms() == 1000


def test_a_round_asks_for_its_wait_when_its_first_report_arrives() -> None:
    polls = ScheduledPolls([(0.05, "a"), (0.2, "b"), (0.4, "c")])
    asked: list[float] = []

    def wait_ms() -> int:
        asked.append(polls.now)
        return 250

    assert gather_round(polls.poll, wait_ms, 200, polls.clock) == ["a", "b"]
    assert asked == [0.05]


def test_an_idle_poll_ends_the_round_empty() -> None:
    polls = ScheduledPolls([])
    assert gather_round(polls.poll, lambda: 1000, 200, polls.clock) == []
    assert polls.polls == 1


def test_a_sent_mark_not_written_yet_still_counts_and_a_failed_write_is_tried_again() -> None:
    from services.alerts.deliverylog import DeliveryLogWriter
    from services.alerts.store import DeliveryLine, sent_line_id

    class FlakyStore:
        def __init__(self) -> None:
            self.down = True
            self.lines: list[DeliveryLine] = []

        def log_lines(self, lines: list[DeliveryLine]) -> list[DeliveryLine]:
            if self.down:
                raise ConnectionError("Elasticsearch away")
            self.lines.extend(lines)
            return []

    store = FlakyStore()
    writer = DeliveryLogWriter(store, interval_s=3600)  # type: ignore[arg-type]
    writer.write(DeliveryLine("s1", "a1", "email", "retried", 1, 451, "try later"))
    writer.write(DeliveryLine("s1", "a1", "email", "sent", 2, 250, None, sent_line_id("a1")))
    assert writer.unwritten_marks(["a1", "a2"]) == {"a1"}  # a replay now is not sent again
    writer.flush()  # the store is away: nothing lost, the mark still known
    assert writer.unwritten_marks(["a1"]) == {"a1"} and store.lines == []
    store.down = False
    writer.close()  # flushes
    assert [line.outcome for line in store.lines] == ["retried", "sent"]  # in order
    assert store.lines[1].line_id == "sent-a1" and writer.unwritten_marks(["a1"]) == set()
