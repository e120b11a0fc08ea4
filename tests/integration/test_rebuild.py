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


def test_idle_workers_each_write_their_part_back_into_an_emptied_redis(
    services_settings, spawn, redis_client, watch_config
):
    """Two workers share the partitions; Redis is emptied while no posts come. Each worker notices that its
    own part is gone (the first one to write the watch key back must not hide the loss from the other), and
    writes back only what it owns."""
    settings = services_settings
    posts = synth_posts(watch_config, 800, seed=9)
    expected = dict(expected_counts(watch_config, posts))
    brands = sorted({b for b, _ in expected})

    workers = [spawn(settings, "worker", "--loglevel", "info") for _ in range(2)]
    wait_until(lambda: all("[^Worker]: Ready" in w.output() for w in workers), 120, "both workers ready")
    produce(settings, posts)
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == expected, 90, "the view", workers[0])

    for key in redis_client.scan_iter(f"{settings.redis_prefix}:*"):
        redis_client.delete(key)
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == expected, 30, "the view written back")
    assert counters(redis_client, settings)["posts_in"] == len(posts)
    assert all("the view was lost" in w.output() for w in workers), "each worker wrote its own part back"
