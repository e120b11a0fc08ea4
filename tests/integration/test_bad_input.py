"""Every kind of bad input goes to the deadletter topic with its reason; the worker keeps going."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas import topics
from schemas.topics import Topic
from streams.sources.producer import PostProducer
from tests.fixtures.workers import counters, read_topic, wait_until

pytestmark = pytest.mark.integration


def _post_json(**overrides) -> dict:
    data = {
        "source": "x",
        "source_id": "1",
        "created_at": datetime.now(UTC).isoformat(),
        "text": "delayed again @nordair",
        "author": {"id": "42", "handle": "someone"},
    }
    data.update(overrides)
    return data


def _bytes(**overrides) -> bytes:
    return orjson.dumps(_post_json(**overrides))


def bad_records() -> dict[str, tuple[bytes, str]]:
    """name -> (raw bytes, a fragment the deadletter reason must contain)."""
    missing = _post_json()
    del missing["author"]
    now = datetime.now(UTC)
    return {
        "invalid json": (b'{"source": "x", ', "invalid JSON"),
        "not an object": (b"[1, 2, 3]", "expected a JSON object"),
        "missing field": (orjson.dumps(missing), "missing field author"),
        "mistyped field": (
            _bytes(author={"id": "42", "handle": "x", "followers": "many"}),
            "invalid field author.followers",
        ),
        "text too long": (_bytes(text="a" * 25_001), "over the 25000-character limit"),
        "record too large": (_bytes(text="a" * 300_000), "-byte limit"),
        "invalid utf-8": (b'{"text": "caf\xe9"}', "invalid UTF-8"),
        "far future": (_bytes(created_at=(now + timedelta(days=1)).isoformat()), "in the future"),
        "far past": (_bytes(created_at=(now - timedelta(days=30)).isoformat()), "older than"),
        "unknown source": (_bytes(source="myspace"), "unknown source 'myspace'"),
        "naive timestamp": (_bytes(created_at="2026-11-24T10:00:00"), "created_at"),
    }


def test_bad_records_are_deadlettered_with_reasons_and_the_worker_keeps_going(services_settings, spawn, redis_client):
    settings = services_settings
    cases = bad_records()
    worker = spawn(settings, "worker")
    with PostProducer(settings) as producer:
        # a post's age is judged by its partition's time: a post of today first, in the far past one's partition
        producer.send_raw(b"far past", _bytes(source_id="good-0"))
        for name, (raw, _) in cases.items():
            producer.send_raw(name.encode(), raw)
        producer.send_raw(b"good", _bytes(source_id="good-1"))

    total = len(cases) + 2
    wait_until(lambda: counters(redis_client, settings)["posts_in"] == total, 90, "every record counted", worker)
    c = counters(redis_client, settings)
    assert c["deadlettered"] == len(cases)
    assert c["matched"] == 2 and c["scored_records"] == 2

    records = read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))
    by_key = {r.key.decode(): r for r in records}
    assert set(by_key) == set(cases)
    for name, (raw, fragment) in cases.items():
        headers = dict(by_key[name].headers)
        reason = headers[topics.DEADLETTER_REASON].decode()
        assert fragment in reason, f"{name}: {reason!r}"
        assert by_key[name].value == raw, f"{name}: the deadletter record must keep the bytes as they came"
        assert headers[topics.DEADLETTER_TOPIC].decode() == Topic.POSTS_RAW.name(settings.topic_prefix)
        assert int(headers[topics.DEADLETTER_OFFSET]) >= 0
