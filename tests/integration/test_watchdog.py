"""A worker whose agent stops handling records (as faust's consumer sometimes does after a restart) starts
itself over, and the counts stay exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.agents import failpoint
from tests.fixtures.workers import counters, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts, produce, synth_posts

pytestmark = pytest.mark.integration


def test_a_hung_worker_starts_over_and_counts_exactly(services_settings, spawn, redis_client, watch_config):
    settings = services_settings.model_copy(update={"stall_restart_s": 8.0})
    posts = synth_posts(watch_config, 3000, seed=5)
    expected = expected_counts(watch_config, posts)
    brands = sorted({b for b, _ in expected})

    worker = spawn(settings, "worker", "--loglevel", "info", env={failpoint.ENV: "hang_after_batches=2"})
    produce(settings, posts)
    wait_until(lambda: counters(redis_client, settings)["posts_in"] == len(posts), 150, "all posts counted", worker)
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == dict(expected), 60, "exact buckets")
    log = worker.output()
    assert "watchdog: partition" in log and "starting the worker over" in log
    environ = Path(f"/proc/{worker.proc.pid}/environ").read_bytes().split(b"\0")
    assert not any(v.startswith(failpoint.ENV.encode()) for v in environ), "the restarted worker runs without the fault"
    assert worker.proc.poll() is None, "the same process goes on"
