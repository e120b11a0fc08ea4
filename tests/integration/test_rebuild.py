"""Redis is a derived view: a worker started against an empty Redis writes back what its tables hold."""

from __future__ import annotations

import pytest

from tests.fixtures.workers import counters, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts, produce, synth_posts

pytestmark = pytest.mark.integration


def test_a_restarted_worker_rebuilds_an_emptied_redis_view(services_settings, spawn, redis_client, watch_config):
    settings = services_settings
    posts = synth_posts(watch_config, 600, seed=5)
    expected = dict(expected_counts(watch_config, posts))
    brands = sorted({b for b, _ in expected})

    first = spawn(settings, "worker")
    produce(settings, posts)
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == expected, 90, "the view", first)
    first.stop()

    for key in redis_client.scan_iter(f"{settings.redis_prefix}:*"):
        redis_client.delete(key)
    assert redis_bucket_counts(redis_client, settings, brands) == {}

    second = spawn(settings, "worker")
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == expected, 90, "the rebuilt view", second)
    assert counters(redis_client, settings)["posts_in"] == len(posts)
