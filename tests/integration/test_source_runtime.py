"""The sources' common ground on a real broker and redis-server: posts to posts.raw, what cannot be parsed to the
deadletter topic with the reason, the health report in Redis and on the sources topic, the resume cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import topics
from schemas.records import Author, Post, Source
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from streams.sources.runtime import SourceRuntime
from tests.fixtures.workers import read_topic, wait_until

pytestmark = pytest.mark.integration


def a_post(n: int) -> Post:
    return Post(
        source=Source.MASTODON,
        source_id=str(n),
        created_at=datetime.now(UTC),
        text=f"post {n} about nordair",
        author=Author(id="a1", handle="someone"),
    )


def test_posts_deadletters_reports_and_the_cursor(services_settings, redis_client):
    settings = services_settings.model_copy(update={"source_report_s": 0.2})
    keys = RedisKeys(settings.redis_prefix)
    with SourceRuntime("mastodon", settings) as runtime:
        runtime.set_state("connected")
        runtime.post(a_post(1))
        runtime.post(a_post(2))
        runtime.heartbeat()
        runtime.unmatched(5)
        runtime.reject(b"{not json", "status 3: not JSON")
        runtime.reconnected()
        assert runtime.cursor is None
        assert runtime.save_cursor("113456")
        assert runtime.cursor == "113456"

        def reported() -> SourceReport | None:
            raw = redis_client.hget(keys.sources, "mastodon")
            return SourceReport.model_validate_json(raw) if raw else None

        wait_until(lambda: (r := reported()) is not None and r.deadlettered == 1, 10, "the report in Redis")
        r = reported()
        assert (r.state, r.events_per_min, r.unmatched_per_min, r.reconnects) == ("connected", 2, 5, 1)
        assert r.last_event_ms > 0 and r.heartbeat_ms >= r.last_event_ms
    assert reported().state == "stopped"  # closing writes a last report

    raw = read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    assert sorted(Post.model_validate_json(m.value).source_id for m in raw) == ["1", "2"]
    assert {m.key for m in raw} == {b"mastodon:a1"}
    (dead,) = read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))
    assert (dead.key, dead.value) == (b"mastodon", b"{not json")
    headers = dict(dead.headers)
    assert headers[topics.DEADLETTER_REASON] == b"status 3: not JSON"
    assert headers[topics.DEADLETTER_TOPIC] == b"source:mastodon"
    reports = read_topic(settings, Topic.SOURCES.name(settings.topic_prefix))
    assert reports and {m.key for m in reports} == {b"mastodon"}
    assert SourceReport.model_validate_json(reports[-1].value).state == "stopped"


def test_redis_away_never_stops_a_source(services_settings):
    settings = services_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "source_report_s": 0.1})
    with SourceRuntime("bluesky", settings) as runtime:
        runtime.set_state("connected")
        runtime.post(a_post(3))
        assert runtime.cursor is None and not runtime.save_cursor("1")
        runtime.wait(0.3)  # a few reports fail to reach Redis
    raw = read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    assert [Post.model_validate_json(m.value).source_id for m in raw] == ["3"]
