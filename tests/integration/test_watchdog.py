"""A worker whose agent stops handling records gets going again and counts exactly: records faust never
hands over are read from the log by the catch-up; an agent hanging in a batch makes the worker start over."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.agents import failpoint
from tests.fixtures.workers import counters, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts, produce, synth_posts

pytestmark = pytest.mark.integration


def run_until_exact(settings, spawn, redis_client, watch_config, fault: str, seed: int):
    posts = synth_posts(watch_config, 3000, seed=seed)
    expected = expected_counts(watch_config, posts)
    brands = sorted({b for b, _ in expected})
    worker = spawn(settings, "worker", "--loglevel", "info", env={failpoint.ENV: fault})
    produce(settings, posts)
    wait_until(lambda: counters(redis_client, settings)["posts_in"] == len(posts), 150, "all posts counted", worker)
    wait_until(lambda: redis_bucket_counts(redis_client, settings, brands) == dict(expected), 60, "exact buckets")
    return worker


def test_records_never_given_to_the_agent_are_caught_up_from_the_log(
    services_settings, spawn, redis_client, watch_config
):
    settings = services_settings.model_copy(update={"stall_restart_s": 0.0})  # restarts off: only the catch-up
    worker = run_until_exact(settings, spawn, redis_client, watch_config, "drop_after_batches=2", seed=6)
    log = worker.output()
    assert "were never given to the agent; reading them from the log" in log
    assert "starting the worker over" not in log


def test_a_worker_hanging_in_a_batch_starts_over_and_counts_exactly(
    services_settings, spawn, redis_client, watch_config
):
    settings = services_settings.model_copy(update={"stall_restart_s": 8.0})
    worker = run_until_exact(settings, spawn, redis_client, watch_config, "hang_after_batches=2", seed=5)
    log = worker.output()
    assert "catch-up: the agent is in the middle of a batch" in log
    assert "watchdog: partition" in log and "starting the worker over" in log
    environ = Path(f"/proc/{worker.proc.pid}/environ").read_bytes().split(b"\0")
    assert not any(v.startswith(failpoint.ENV.encode()) for v in environ), "the restarted worker runs without the fault"
    assert worker.proc.poll() is None, "the same process goes on"
