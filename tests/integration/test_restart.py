"""kill -9 of a worker in the middle of a stream: after a restart every count is exact."""

from __future__ import annotations

import pytest

from tests.fixtures.workers import counters, metrics_topic_counts, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts, produce, synth_posts

pytestmark = pytest.mark.integration


def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(services_settings, spawn, redis_client, watch_config):
    settings = services_settings.model_copy(update={"commit_interval_s": 2.0})
    posts = synth_posts(watch_config, 4000, seed=11)
    expected = expected_counts(watch_config, posts)
    brands = sorted({b for b, _ in expected})

    first = spawn(settings, "worker")
    produce(settings, posts)
    # Kill while the worker is still busy: it has applied some posts and not yet committed all of them.
    wait_until(
        lambda: counters(redis_client, settings)["posts_in"] >= len(posts) // 4, 120, "a quarter processed", first
    )
    first.kill9()
    at_kill = counters(redis_client, settings)["posts_in"]
    assert at_kill < len(posts), "the worker finished before it was killed: the test proves nothing"

    second = spawn(settings, "worker")
    wait_until(
        lambda: counters(redis_client, settings)["posts_in"] == len(posts), 180, "all posts after restart", second
    )
    try:
        wait_until(
            lambda: redis_bucket_counts(redis_client, settings, brands) == dict(expected),
            60,
            "exact Redis buckets after restart",
            second,
        )
    except AssertionError:
        got = redis_bucket_counts(redis_client, settings, brands)
        diff = {k: (got.get(k), expected.get(k)) for k in set(got) | set(expected) if got.get(k) != expected.get(k)}
        raise AssertionError(f"(got, expected) per bucket: {diff}; metrics: {metrics_topic_counts(settings)}") from None
    assert metrics_topic_counts(settings) == dict(expected)
    assert counters(redis_client, settings)["scored"] == sum(expected.values())
