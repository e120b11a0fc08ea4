"""`lytte ingest bluesky` against a local Jetstream (tests/fakes/jetstream.py), into the real Kafka and Redis."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from schemas import topics
from schemas.records import Post, PostKind
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from streams.sources.bluesky_state import ResumePoint
from tests.fakes.jetstream import FakeJetstream, identity_event, like_event, post_event, repost_event
from tests.fixtures.workers import read_topic

pytestmark = pytest.mark.integration

# config/watch.yaml watches Nordair, Fjordbank and Skyline


@pytest.fixture
def fake():
    with FakeJetstream() as server:
        yield server


@pytest.fixture
def settings(services_settings, fake):
    return services_settings.model_copy(update={"bluesky_jetstream_url": fake.url})


def raw_posts(settings) -> list[Post]:
    return [
        Post.model_validate_json(r.value) for r in read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    ]


def wait_for(check, timeout: float, what: str, child=None):
    """Polls `check` (which reads Kafka, so once a second) until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if child is not None and child.proc.poll() is not None:
            raise AssertionError(f"the source exited while waiting for {what}:\n{child.output()[-3000:]}")
        time.sleep(1.0)
    tail = f"\nsource log:\n{child.output()[-3000:]}" if child else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")


def report(redis_client, settings) -> SourceReport | None:
    raw = redis_client.hget(RedisKeys(settings.redis_prefix).sources, "bluesky")
    return SourceReport.model_validate_json(raw) if raw else None


def connected(fake: FakeJetstream, n: int):
    return lambda: len(fake.connections) >= n


def batch(tag: str, n: int) -> tuple[list[dict], set[str]]:
    """n matched posts by two authors, each followed by an unmatched post and a like (which the collection
    filter keeps away); returns the events and the ids of the matched posts."""
    events, ids = [], set()
    for i in range(n):
        did = "did:plc:ingrid" if i % 2 else "did:plc:tom"
        rkey = f"3{tag}{i:04d}"
        events.append(post_event(did, rkey, f"Nordair flight {tag}{i} delayed again", langs=["en"]))
        events.append(post_event("did:plc:other", f"3{tag}x{i:04d}", f"lovely weather {i}"))
        events.append(like_event("did:plc:other", f"3{tag}l{i:04d}", f"at://{did}/app.bsky.feed.post/{rkey}"))
        ids.add(f"at://{did}/app.bsky.feed.post/{rkey}")
    return events, ids


def test_posts_arrive_through_a_drop_and_a_restart_without_gap_or_duplicate(spawn, fake, settings, redis_client):
    fake.drop_after(7)  # the first connection breaks off in the middle of the first batch
    source = spawn(settings, "ingest", "bluesky", name="bluesky")
    wait_for(connected(fake, 1), 30, "the source to connect", source)
    identity = identity_event("did:plc:ingrid", "ingrid.bsky.social")  # dated before the batch, as Jetstream would
    first, first_ids = batch("a", 10)
    fake.publish(identity, *first)

    posts = wait_for(lambda: (p := raw_posts(settings)) and len(p) >= 10 and p, 60, "10 posts", source)
    assert {p.source_id for p in posts} == first_ids
    assert len(fake.connections) >= 2, "the drop made the source connect again"
    assert "cursor" not in fake.connections[0]  # the first start has no cursor: the live tail
    assert int(fake.connections[1]["cursor"][0]) < max(e["time_us"] for e in first)
    assert fake.connections[0]["wantedCollections"] == ["app.bsky.feed.post", "app.bsky.feed.repost"]
    by_ingrid = [p for p in posts if p.author.id == "did:plc:ingrid"]
    assert by_ingrid and all(p.author.handle == "ingrid.bsky.social" for p in by_ingrid)
    assert all(p.author.handle == "did:plc:tom" for p in posts if p.author.id == "did:plc:tom")

    # the weather posts are signs of life, not posts; the report is rewritten every 2 s, so wait for one after them
    health = wait_for(
        lambda: (r := report(redis_client, settings)) and r.reconnects >= 1 and r.unmatched_per_min >= 10 and r,
        15,
        "a report with the reconnect and the unmatched posts",
    )
    assert health.state == "connected"
    assert health.events_per_min >= 10

    stopping = time.monotonic()
    source.stop()  # SIGTERM: posts flushed, the cursor saved
    assert source.proc.returncode == 0 and time.monotonic() - stopping < 5, "a prompt, clean stop"
    saved = ResumePoint.decode(redis_client.get(RedisKeys(settings.redis_prefix).source_cursor("bluesky")).decode())
    assert saved.time_us == max(e["time_us"] for e in first if e["commit"]["collection"] == "app.bsky.feed.post")
    assert set(saved.recent) == first_ids  # all within the rewind window

    second, second_ids = batch("b", 10)
    fake.publish(*second)  # while the source is down
    restarted = spawn(settings, "ingest", "bluesky", name="bluesky-again")
    posts = wait_for(lambda: (p := raw_posts(settings)) and len(p) >= 20 and p, 60, "20 posts", restarted)
    time.sleep(2)  # anything repeated would be here by now
    posts = raw_posts(settings)
    counts = Counter(p.source_id for p in posts)
    assert set(counts) == first_ids | second_ids, "no gap"
    assert max(counts.values()) == 1, f"no duplicate: {[i for i, n in counts.items() if n > 1]}"
    resumed = int(fake.connections[-1]["cursor"][0])
    assert resumed == saved.time_us - 5_000_000  # the saved mark, rewound five seconds


def test_a_killed_source_loses_nothing(spawn, fake, settings, redis_client):
    """kill -9 leaves the cursor up to a second behind the posts sent: the restart sees those events again.
    Nothing is lost; a repeat is possible, and the worker counts a post once by its id."""
    cursor_key = RedisKeys(settings.redis_prefix).source_cursor("bluesky")
    source = spawn(settings, "ingest", "bluesky", name="bluesky")
    wait_for(connected(fake, 1), 30, "the source to connect", source)
    early, early_ids = batch("k", 5)
    fake.publish(*early)
    wait_for(lambda: len(raw_posts(settings)) >= 5, 60, "5 posts", source)
    wait_for(lambda: redis_client.get(cursor_key), 10, "a saved cursor", source)
    late, late_ids = batch("l", 5)
    fake.publish(*late)
    wait_for(lambda: len(raw_posts(settings)) >= 10, 60, "10 posts", source)
    source.kill9()
    while_down, down_ids = batch("m", 5)
    fake.publish(*while_down)
    restarted = spawn(settings, "ingest", "bluesky", name="bluesky-again")
    every = early_ids | late_ids | down_ids
    wait_for(lambda: {p.source_id for p in raw_posts(settings)} >= every, 60, "all posts", restarted)
    assert "cursor" in fake.connections[-1]


def test_reposts_of_kept_posts_and_bad_events(spawn, fake, settings, redis_client):
    source = spawn(settings, "ingest", "bluesky", name="bluesky")
    wait_for(connected(fake, 1), 30, "the source to connect", source)
    original = post_event("did:plc:tom", "3orig", "Skyline lost my bag", langs=["en"])
    uri = "at://did:plc:tom/app.bsky.feed.post/3orig"
    no_text = post_event("did:plc:tom", "3notext", "Nordair")
    no_text["commit"]["record"]["text"] = 42
    fake.publish(original, repost_event("did:plc:fan", "3rep", uri))
    fake.publish_raw("this is not an event")
    fake.publish(no_text, repost_event("did:plc:fan", "3rep2", "at://did:plc:x/app.bsky.feed.post/3unknown"))
    fake.publish(post_event("did:plc:tom", "3after", "Fjordbank app down", langs=["en"]))

    posts = wait_for(lambda: (p := raw_posts(settings)) and len(p) >= 3 and p, 60, "3 posts", source)
    assert [p.source_id for p in posts if p.kind == PostKind.REPOST] == ["at://did:plc:fan/app.bsky.feed.repost/3rep"]
    repost = next(p for p in posts if p.kind == PostKind.REPOST)
    assert repost.referenced_id == uri and repost.text == "Skyline lost my bag"
    assert {p.source_id for p in posts} == {uri, repost.source_id, "at://did:plc:tom/app.bsky.feed.post/3after"}

    dead = wait_for(
        lambda: (d := read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))) and len(d) >= 2 and d,
        30,
        "2 deadletters",
        source,
    )
    reasons = sorted(dict(r.headers)[topics.DEADLETTER_REASON].decode() for r in dead)
    assert reasons[0].startswith("not JSON") and reasons[1].startswith("record.text")
    assert {r.value for r in dead} == {b"this is not an event", json.dumps(no_text).encode()}
    health = wait_for(lambda: (r := report(redis_client, settings)) and r.deadlettered >= 2 and r, 15, "the report")
    assert health.deadlettered == 2 and health.state == "connected"


def test_an_http_error_backs_off_then_connects(spawn, fake, settings, redis_client):
    fake.refuse(503)
    source = spawn(settings, "ingest", "bluesky", name="bluesky")
    backoff = wait_for(
        lambda: (r := report(redis_client, settings)) and r.state == "backoff" and r, 20, "backoff", source
    )
    assert backoff.detail.startswith("HTTP 503; again in 5.0 s")
    refused_at = time.monotonic()
    wait_for(connected(fake, 1), 30, "the source to connect after its backoff", source)
    assert time.monotonic() - refused_at >= 3.0, "it waited instead of retrying at once"
    fake.publish(post_event("did:plc:tom", "3late", "Nordair finally"))
    wait_for(lambda: len(raw_posts(settings)) == 1, 30, "the post", source)
    wait_for(lambda: (r := report(redis_client, settings)) and r.state == "connected", 15, "connected")
