"""`lytte ingest x` as a child process against the fake X (tests/fakes/x.py), real Kafka and Redis: posts reach
posts.raw, a disconnect mid-stream loses nothing, a 429 backs off from 60 s (on a scaled clock), bad lines land
in the deadletter topic, the bearer token is nowhere in the output, the health report tells the story."""

from __future__ import annotations

import itertools
import time

import pytest
from pydantic import SecretStr

from schemas import topics
from schemas.records import Post, PostKind
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from tests.fakes.x import (
    CLOSE,
    CUT,
    KEEPALIVE,
    OPERATIONAL_DISCONNECT,
    RULES_PATH,
    FakeX,
    line,
    post_payload,
    status,
    user,
)
from tests.fixtures.workers import read_topic, wait_until

pytestmark = pytest.mark.integration

TOKEN = "itest-bearer-AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid"
ADA = user("11", "ada", "Ada", followers=1200)
BOB = user("22", "bob", "Bob", followers=5)
ORIGINAL = {"id": "100", "text": "Nordair lost my bag", "author": BOB}


@pytest.fixture
def fake_x():
    with FakeX(TOKEN, keepalive_s=0.3) as fake:
        yield fake


def x_settings(services_settings, fake: FakeX):
    return services_settings.model_copy(
        update={"x_api_url": fake.url, "x_bearer_token": SecretStr(TOKEN), "source_report_s": 0.5}
    )


def raw_posts(settings) -> list[Post]:
    return [
        Post.model_validate_json(r.value) for r in read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    ]


def deadletters(settings) -> list:
    return read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))


def reports(settings) -> list[SourceReport]:
    records = read_topic(settings, Topic.SOURCES.name(settings.topic_prefix))
    return [SourceReport.model_validate_json(r.value) for r in records if r.key == b"x"]


def report_in_redis(redis_client, settings) -> SourceReport | None:
    raw = redis_client.hget(RedisKeys(settings.redis_prefix).sources, "x")
    return SourceReport.model_validate_json(raw) if raw else None


def wait_for_posts(settings, n: int, child, timeout: float = 45.0) -> list[Post]:
    found: list[Post] = []

    def enough() -> bool:
        found[:] = raw_posts(settings)
        return len({p.source_id for p in found}) >= n

    wait_until(enough, timeout, f"{n} posts on posts.raw", child)
    return found


def test_posts_reach_posts_raw_with_the_rules_synced_and_a_live_report(services_settings, fake_x, spawn, redis_client):
    settings = x_settings(services_settings, fake_x)
    fake_x.set_rules(("stale rule", "brand:gone"))
    fake_x.expect(
        KEEPALIVE,
        line(post_payload("1", "Nordair lounge is great", ADA)),
        line(post_payload("2", "@bob sorry to hear", ADA, kind="replied_to", referenced=ORIGINAL)),
        line(post_payload("3", "Nordair every week", ADA, kind="quoted", referenced=ORIGINAL)),
        line(post_payload("4", "RT @bob: Nordair lost my", ADA, kind="retweeted", referenced=ORIGINAL)),
    )
    child = spawn(settings, "ingest", "x", name="x")
    posts = wait_for_posts(settings, 4, child)
    assert {p.source_id: p.kind for p in posts} == {
        "1": PostKind.ORIGINAL,
        "2": PostKind.REPLY,
        "3": PostKind.QUOTE,
        "4": PostKind.REPOST,
    }
    assert next(p for p in posts if p.source_id == "4").text == "RT @bob: Nordair lost my bag"
    assert sorted(r["tag"] for r in fake_x.rules) == [
        "brand:fjordbank",
        "brand:nordair",
        "competitor:skyline",
        "key_person:ingrid_news",
        "key_person:travelwithtom",
    ]
    wait_until(
        lambda: (
            (r := report_in_redis(redis_client, settings)) is not None
            and r.state == "connected"
            and r.events_per_min >= 4
        ),
        10,
        "a connected report with 4 posts a minute",
        child,
    )
    started = time.monotonic()
    child.stop()
    assert time.monotonic() - started < 5  # SIGTERM cuts the open stream at once
    assert report_in_redis(redis_client, settings).state == "stopped"


def test_a_disconnect_mid_stream_reconnects_without_loss(services_settings, fake_x, spawn):
    settings = x_settings(services_settings, fake_x)
    fake_x.expect(line(post_payload("11", "Nordair one", ADA)), line(post_payload("12", "Nordair two", ADA)), CUT)
    fake_x.expect(
        line(post_payload("12", "Nordair two", ADA)),  # X may send a post again after a reconnect: same id
        line(post_payload("13", "Nordair three", ADA)),
        line(OPERATIONAL_DISCONNECT),
        CLOSE,
    )
    fake_x.expect(line(post_payload("14", "Nordair four", ADA)))
    child = spawn(settings, "ingest", "x", name="x")
    posts = wait_for_posts(settings, 4, child)
    assert {p.id for p in posts} == {"x:11", "x:12", "x:13", "x:14"}
    assert len(fake_x.stream_requests()) == 3
    assert deadletters(settings) == []  # the line cut in the middle went with its connection
    wait_until(lambda: reports(settings) and reports(settings)[-1].reconnects == 2, 10, "2 reconnects reported", child)
    details = [r.detail for r in reports(settings)]
    assert any("operational-disconnect" in d for d in details), details
    assert "X says: operational-disconnect" in child.output()


def test_429_backs_off_from_60_seconds_on_a_scaled_clock(services_settings, fake_x, spawn):
    settings = x_settings(services_settings, fake_x)
    scale = 0.05  # 5 s -> 0.25 s, 60 s -> 3 s, 120 s -> 6 s: apart by more than a loaded machine's jitter
    fake_x.expect(status(503))
    fake_x.expect(status(429))
    fake_x.expect(status(429))
    fake_x.expect(line(post_payload("21", "Nordair at last", ADA)))
    child = spawn(settings, "ingest", "x", "--time-scale", str(scale), name="x")
    wait_for_posts(settings, 1, child)
    at = [r.at for r in fake_x.stream_requests()]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    expected = [5 * scale, 60 * scale, 120 * scale]  # after the 503, the first 429, the second 429
    assert len(gaps) == 3
    for gap, want in zip(gaps, expected, strict=True):
        assert want <= gap < want + 1.5, (gaps, expected)
    output = child.output()
    assert "HTTP 503; next try in 5 s" in output
    assert "HTTP 429; next try in 60 s" in output and "HTTP 429; next try in 120 s" in output
    assert any(r.state == "rate_limited" and "HTTP 429" in r.detail for r in reports(settings))


def test_the_bearer_token_never_appears_in_the_output(services_settings, fake_x, spawn, redis_client):
    settings = x_settings(services_settings, fake_x)
    fake_x.expect(status(503))
    fake_x.expect(line(post_payload("31", "Nordair", ADA)))
    child = spawn(settings, "ingest", "x", "--loglevel", "debug", "--time-scale", "0.01", name="x")
    wait_for_posts(settings, 1, child)
    child.stop()
    output = child.output()
    assert "Bearer [redacted]" in output  # tweepy's debug line with the request headers was there, masked
    assert TOKEN not in output
    assert TOKEN.encode() not in (redis_client.hget(RedisKeys(settings.redis_prefix).sources, "x") or b"")
    assert all(r.authorized for r in fake_x.requests)


def test_a_bad_payload_lands_in_the_deadletter_topic_and_the_stream_goes_on(services_settings, fake_x, spawn):
    settings = x_settings(services_settings, fake_x)
    fake_x.expect(
        line(b"{not json"),
        line({"data": {"id": "41", "text": "no author"}}),
        line(post_payload("42", "Nordair fine", ADA)),
    )
    child = spawn(settings, "ingest", "x", name="x")
    wait_for_posts(settings, 1, child)
    wait_until(lambda: len(deadletters(settings)) == 2, 10, "2 deadletters", child)
    dead = deadletters(settings)
    assert [r.value for r in dead] == [b"{not json", b'{"data": {"id": "41", "text": "no author"}}']
    headers = [dict(r.headers) for r in dead]
    assert headers[0][topics.DEADLETTER_REASON].startswith(b"x: not JSON")
    assert headers[1][topics.DEADLETTER_REASON] == b"x: data without author_id"
    assert {h[topics.DEADLETTER_TOPIC] for h in headers} == {b"source:x"}
    wait_until(lambda: reports(settings)[-1].deadlettered == 2, 10, "deadlettered 2 in the report", child)


def test_the_sample_stream_for_demos(services_settings, fake_x, spawn):
    settings = x_settings(services_settings, fake_x)
    fake_x.expect(line(post_payload("51", "just a post", ADA, tags=())))
    child = spawn(settings, "ingest", "x", "--sample", name="x")
    (post,) = wait_for_posts(settings, 1, child)
    assert post.id == "x:51"
    assert [r.path for r in fake_x.requests] == ["/2/tweets/sample/stream"]
    assert not any(r.path == RULES_PATH for r in fake_x.requests)
