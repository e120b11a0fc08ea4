"""rebalance: two workers share the stream; one is killed with `kill -9` and a third joins while posts keep
coming in. The partitions move twice (after the dead member's session times out, and when the new one
joins); every count is exact at the end."""

from __future__ import annotations

import pytest

from tests.faults.harness import (
    Feeder,
    post_records,
    posts_in,
    ready,
    settle_posts,
    wait,
)
from tests.integration.test_pipeline import synth_posts

pytestmark = pytest.mark.faults

N_POSTS = 30_000
RATE = 500  # posts/s: a minute of stream


def test_rebalance(fault_case, workers, fault_settings, redis_client, watch_config):
    settings = fault_settings
    posts = synth_posts(watch_config, N_POSTS, minutes=4.0, seed=31)

    first = workers.start(settings)
    second = workers.start(settings)
    wait(lambda: ready(first) and ready(second), 120, "both workers ready", workers)
    feeder = Feeder(settings, post_records(posts), rate=RATE)
    feeder.start()
    wait(lambda: posts_in(redis_client, settings) >= N_POSTS // 5, 180, "a fifth counted by two workers", workers)
    workers.kill9(first)
    produced_at_kill = feeder.sent
    events = [f"kill -9 of {first.name}: {posts_in(redis_client, settings)} counted, {feeder.sent} produced"]
    wait(lambda: posts_in(redis_client, settings) >= N_POSTS // 2, 240, "half counted by one worker", workers)
    third = workers.start(settings)
    events.append(f"{third.name} added: {posts_in(redis_client, settings)} counted, {feeder.sent} produced")
    wait(lambda: ready(third), 120, f"{third.name} ready", workers)
    events.append(f"{third.name} ready: {posts_in(redis_client, settings)} counted, {feeder.sent} produced")
    n = feeder.result(600)

    verdict = settle_posts(fault_case, redis_client, settings, watch_config, posts, n, workers, timeout=300)
    fault_case.runs = 1
    fault_case.exact = verdict.exact
    assert verdict.exact, f"{verdict.report}\n{'; '.join(events)}"
    assert produced_at_kill < N_POSTS, f"the kill came after the last post was produced ({events})"
