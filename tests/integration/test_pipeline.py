"""Posts through a real broker and a real worker into Redis and the metrics topic, counted exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from schemas.redis_keys import RedisKeys
from streams.core.aggregate import bucket_start
from streams.core.matching import Matcher
from streams.sources.producer import PostProducer
from streams.sources.synth import Incident, SynthSource
from tests.fixtures.workers import counters, metrics_topic_counts, redis_bucket_counts, wait_until

pytestmark = pytest.mark.integration


def synth_posts(watch_config, n: int, minutes: float = 4.0, seed: int = 7):
    """n synth posts spread over the last `minutes` minutes of event time, incident included."""
    source = SynthSource(watch_config, rate=n / (minutes * 60), seed=seed, incident=Incident(at_minute=1, minutes=1))
    start = datetime.now(UTC) - timedelta(minutes=minutes + 1)
    return [post for _, post in source.schedule(start, n)]


def expected_counts(watch_config, posts) -> Counter:
    matcher = Matcher(watch_config)
    expected: Counter = Counter()
    for post in posts:
        for match in matcher.brands(post.text):
            expected[(match.brand, int(bucket_start(post.created_at).timestamp()))] += 1
    return expected


def produce(settings, posts) -> None:
    with PostProducer(settings) as producer:
        for post in posts:
            producer.send(post)


def test_posts_become_exact_bucket_counts_in_redis_and_metrics(services_settings, spawn, redis_client, watch_config):
    settings = services_settings
    posts = synth_posts(watch_config, 1500)
    expected = expected_counts(watch_config, posts)
    brands = sorted({b for b, _ in expected})
    worker = spawn(settings, "worker")
    produce(settings, posts)

    wait_until(lambda: counters(redis_client, settings)["posts_in"] == len(posts), 120, "all posts counted", worker)
    wait_until(
        lambda: redis_bucket_counts(redis_client, settings, brands) == dict(expected),
        60,
        "Redis buckets equal to the posts produced",
        worker,
    )

    totals = counters(redis_client, settings)
    assert totals["scored_records"] == sum(expected.values())
    assert totals["unmatched"] == sum(1 for p in posts if not Matcher(watch_config).brands(p.text))
    assert totals["deadlettered"] == 0
    assert metrics_topic_counts(settings) == dict(expected)
    latest = redis_client.zrange(RedisKeys(settings.redis_prefix).latest("nordair"), 0, -1)
    assert 0 < len(latest) <= settings.redis_posts_kept
