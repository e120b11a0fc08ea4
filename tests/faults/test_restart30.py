"""restart30: the scenario of tests/integration/test_restart.py (posts produced, the worker killed with
`kill -9` at a quarter, a new worker, exact counts) 30 times in a row, each on fresh topics. Every repetition
is a run; the case is exact when all of them are. After three inexact runs the case stops early."""

from __future__ import annotations

import os

import pytest

from tests.faults.harness import (
    drop_topics,
    make_settings,
    post_records,
    posts_in,
    produce_now,
    settle_posts,
    wait,
)
from tests.integration.test_pipeline import synth_posts

pytestmark = pytest.mark.faults

RUNS = int(os.environ.get("FAULTS_RESTART_RUNS", "30"))
N_POSTS = 4000
GIVE_UP_AFTER = 3  # inexact runs


def test_restart30(fault_case, workers, kafka_broker, redis_server, redis_client, tmp_path, watch_config):
    failures: list[str] = []
    inconclusive: list[int] = []
    for run in range(RUNS):
        settings = make_settings(
            kafka_broker.bootstrap, redis_server.url, tmp_path / f"home-{run}", commit_interval_s=2.0
        )
        try:
            posts = synth_posts(watch_config, N_POSTS, seed=1000 + run)
            first = workers.start(settings, name=f"run{run}-first")
            produce_now(settings, post_records(posts))
            wait(lambda s=settings: posts_in(redis_client, s) >= N_POSTS // 4, 120, "a quarter counted", workers)
            workers.kill9(first)
            at_kill = posts_in(redis_client, settings)
            if at_kill >= N_POSTS:
                inconclusive.append(run)  # the worker finished before the kill: nothing was proven
            workers.start(settings, name=f"run{run}-second")
            verdict = settle_posts(
                fault_case, redis_client, settings, watch_config, posts, N_POSTS, workers, timeout=180
            )
            fault_case.runs += 1
            if not verdict.exact:
                failures.append(f"run {run} (killed at {at_kill} counted): {verdict.report}")
        finally:
            workers.stop_all()
            drop_topics(settings)
        if len(failures) >= GIVE_UP_AFTER:
            break
    fault_case.exact = not failures and fault_case.runs == RUNS
    assert not failures, f"{len(failures)} of {fault_case.runs} runs inexact:\n" + "\n\n".join(failures)
    assert not inconclusive, f"runs {inconclusive}: the worker counted every post before it was killed"
