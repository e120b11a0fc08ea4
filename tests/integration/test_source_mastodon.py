"""`lytte ingest mastodon` against the fake instance, on the real Kafka and Redis: posts reach posts.raw once
each, a dropped stream's gap is filled over REST, bad events go to the deadletter topic, the health report and
the resume cursor land in Redis, and the token never reaches the log."""

from __future__ import annotations

import collections
import json

import pytest

from schemas import topics
from schemas.records import Post, PostKind
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from tests.fakes.mastodon import FakeMastodon, make_status
from tests.fixtures.workers import read_topic, wait_until

pytestmark = pytest.mark.integration

TOKEN = "itest-token-9f8e7d6c5b4a"


def _posts(settings) -> list[Post]:
    return [
        Post.model_validate_json(r.value) for r in read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    ]


def _tagged(fake, text, tag="nordair", **kw):
    return make_status(fake.next_id(), f"<p>{text} #{tag}</p>", tags=(tag,), **kw)


def test_posts_reach_posts_raw_once_and_gaps_are_filled_over_rest(services_settings, spawn, redis_client):
    settings = services_settings
    keys = RedisKeys(settings.redis_prefix)
    with FakeMastodon(token=TOKEN, heartbeat_s=0.5) as fake:
        child = spawn(
            settings,
            "ingest",
            "mastodon",
            name="mastodon",
            env={
                "LYTTE_MASTODON_BASE_URL": fake.base_url,
                "LYTTE_MASTODON_ACCESS_TOKEN": TOKEN,
                "LYTTE_SOURCE_REPORT_S": "0.5",
            },
        )
        # the three watched hashtags of config/watch.yaml and the public stream
        wait_until(lambda: len(fake.open_streams()) == 4, 60, "four streams", child)

        live = [
            _tagged(fake, "Nordair lost my bag"),  # on the hashtag stream and the public one
            make_status(fake.next_id(), "<p>Fjordbank app down again</p>", username="bo", account_id="2"),
            _tagged(fake, "same here", in_reply_to_id="1"),
        ]
        unmatched = make_status(fake.next_id(), "<p>the city skyline at night</p>")
        for status in live:
            fake.publish(status)
        fake.publish(unmatched)
        fake.send_raw("event: update\ndata: {broken\n\n", stream="public")
        wait_until(lambda: len(_posts(settings)) >= 3, 30, "the live posts in posts.raw", child)

        assert fake.drop_streams() == 4
        missed = [_tagged(fake, f"missed {i}") for i in range(3)]
        missed.append(make_status(fake.next_id(), "<p>Skyline Airways strike</p>", username="cy", account_id="3"))
        assert [fake.publish(s) for s in missed] == [0, 0, 0, 0]  # nothing open: only REST can bring these
        wait_until(lambda: len(_posts(settings)) >= 7, 60, "the missed posts in posts.raw", child)
        wait_until(lambda: len(fake.open_streams()) == 4, 30, "the streams back", child)
        after = _tagged(fake, "back again", tag="fjordbank")
        fake.publish(after)
        wait_until(lambda: len(_posts(settings)) >= 8, 30, "the post after the reconnect", child)

        def report() -> SourceReport | None:
            raw = redis_client.hget(keys.sources, "mastodon")
            return SourceReport.model_validate_json(raw) if raw else None

        wait_until(lambda: (r := report()) is not None and r.reconnects >= 4 and r.state == "connected", 30, "report")
        child.stop()
        assert child.proc.returncode == 0, child.output()[-2000:]

    posts = _posts(settings)
    counts = collections.Counter(p.source_id for p in posts)
    expected = [s["id"] for s in [*live, *missed, after]]
    assert sorted(counts) == sorted(expected)
    assert set(counts.values()) == {1}, f"sent more than once: {counts}"
    by_id = {p.source_id: p for p in posts}
    assert by_id[live[0]["id"]].text == "Nordair lost my bag #nordair"
    assert by_id[live[0]["id"]].author.handle == "ann@mastodon.example"
    assert by_id[live[2]["id"]].kind is PostKind.REPLY and by_id[live[2]["id"]].referenced_id == "1"
    assert unmatched["id"] not in counts

    fills = [q for p, q in fake.timeline_requests() if p == "/api/v1/timelines/tag/nordair"]
    assert fills and fills[0]["since_id"] == [live[2]["id"]]  # the newest status that stream had seen

    dead = read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))
    assert [r.value for r in dead] == [b"{broken"]
    headers = dict(dead[0].headers)
    assert b"not JSON" in headers[topics.DEADLETTER_REASON] and headers[topics.DEADLETTER_TOPIC] == b"source:mastodon"

    final = report()
    assert final.state == "stopped" and final.deadlettered == 1 and final.gaps == 0
    assert redis_client.get(keys.source_cursor("mastodon")).decode() == after["id"]

    log = child.output()
    assert TOKEN not in log
    assert "hashtag:nordair" in log  # the log says what it did, without the token
    assert all(TOKEN not in json.dumps(q) for _, q in fake.timeline_requests())  # header only, never the URL


def test_missing_token_is_one_clear_line(services_settings, spawn):
    child = spawn(services_settings, "ingest", "mastodon", name="mastodon", env={"LYTTE_MASTODON_BASE_URL": "http://x"})
    child.proc.wait(timeout=60)
    assert child.proc.returncode == 2
    assert "LYTTE_MASTODON_ACCESS_TOKEN" in child.output()


def test_a_restart_fills_the_time_it_was_down_from_the_saved_cursor(services_settings, spawn, redis_client):
    settings = services_settings
    cursor_key = RedisKeys(settings.redis_prefix).source_cursor("mastodon")
    with FakeMastodon(token=TOKEN, heartbeat_s=0.5) as fake:
        env = {"LYTTE_MASTODON_BASE_URL": fake.base_url, "LYTTE_MASTODON_ACCESS_TOKEN": TOKEN}
        first = spawn(settings, "ingest", "mastodon", "--no-public", name="mastodon", env=env)
        wait_until(lambda: len(fake.open_streams()) == 3, 60, "three hashtag streams", first)
        before = _tagged(fake, "before the restart")
        fake.publish(before)
        wait_until(lambda: len(_posts(settings)) == 1, 30, "the first post", first)
        first.stop()
        assert redis_client.get(cursor_key).decode() == before["id"]
        wait_until(lambda: not fake.open_streams(), 10, "the fake to see the streams closed")

        down = [_tagged(fake, "while down"), _tagged(fake, "also while down", tag="skyline")]
        assert [fake.publish(s) for s in down] == [0, 0]
        second = spawn(settings, "ingest", "mastodon", "--no-public", name="mastodon", env=env)
        wait_until(lambda: len(_posts(settings)) >= 3, 60, "the posts from while it was down", second)
        second.stop()

    counts = collections.Counter(p.source_id for p in _posts(settings))
    assert counts == {before["id"]: 1, down[0]["id"]: 1, down[1]["id"]: 1}
    assert redis_client.get(cursor_key).decode() == down[1]["id"]
