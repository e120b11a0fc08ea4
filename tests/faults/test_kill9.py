"""kill9: `kill -9` of the worker three times while 100,000 posts stream in, restarted by the test each time;
kill9_under_up: the same fault under `lytte up`, whose supervisor must bring the worker back by itself."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pytest
import redis

from schemas.pipeline import counter_totals, partition_counters
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from streams.local.processes import free_port, spawn_lytte, stop
from tests.faults.harness import (
    Feeder,
    differences,
    expected_counts,
    post_records,
    posts_in,
    raw_ends,
    settle_posts,
    wait,
    watched_brands,
)
from tests.fixtures.factories import REPO
from tests.fixtures.workers import metrics_topic_counts, read_topic, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import synth_posts

pytestmark = pytest.mark.faults

N_POSTS = 100_000
RATE = 800  # posts/s: the stream lasts about two minutes and is still coming in at the kills
KILL_AT = (0.2, 0.45, 0.7)  # of the posts counted
WORKERS = 2


def test_kill9(fault_case, workers, fault_settings, redis_client, watch_config):
    settings = fault_settings
    posts = synth_posts(watch_config, N_POSTS, minutes=4.0, seed=21)

    pool = [workers.start(settings) for _ in range(WORKERS)]
    feeder = Feeder(settings, post_records(posts), rate=RATE)
    feeder.start()
    kills, produced_at_kill = [], []
    for k, share in enumerate(KILL_AT, 1):
        target = int(N_POSTS * share)
        wait(lambda t=target: posts_in(redis_client, settings) >= t, 300, f"{target} posts counted (kill {k})", workers)
        victim = k % WORKERS  # each worker in turn: the other takes its partitions over, then gives some back
        workers.kill9(pool[victim])
        produced_at_kill.append(feeder.sent)
        kills.append(f"kill {k} (worker {victim}): {posts_in(redis_client, settings)} counted, {feeder.sent} produced")
        pool[victim] = workers.start(settings)
    n = feeder.result(600)

    verdict = settle_posts(fault_case, redis_client, settings, watch_config, posts, n, workers, timeout=400)
    fault_case.runs = 1
    fault_case.exact = verdict.exact
    assert verdict.exact, f"{verdict.report}\n{'; '.join(kills)}"
    assert min(produced_at_kill) < N_POSTS, f"every kill came after the last post was produced ({kills})"


# -- under `lytte up` ------------------------------------------------------------------------------------

UP_RATE = 40  # synth posts/s


def _worker_pids(log: str) -> list[int]:
    return [int(p) for p in re.findall(r"worker(?:-\d+)? started \(pid (\d+)", log)]


def test_kill9_under_up(fault_case, tmp_path, watch_config):
    ports = {name: free_port() for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REDIS_PORT", "DASHBOARD_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYTTE_")}
    env.update({f"LYTTE_{k}": str(v) for k, v in ports.items()})
    env.update(
        LYTTE_WATCH_CONFIG=str(REPO / "config" / "watch.yaml"),
        LYTTE_SESSION_TIMEOUT_S="6",
        LYTTE_COMMIT_INTERVAL_S="1",
        PYTHONUNBUFFERED="1",
    )
    log_file = tmp_path / "up.log"
    worker_logs = tmp_path / ".lytte" / "logs"
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{ports['KAFKA_PORT']}", redis_url=f"redis://127.0.0.1:{ports['REDIS_PORT']}/0"
    )
    client = redis.Redis(port=ports["REDIS_PORT"], socket_timeout=5)
    up = spawn_lytte(["up", "--rate", str(UP_RATE)], env, log_file, cwd=tmp_path)

    def log() -> str:
        return log_file.read_text(errors="replace")

    def counted() -> int:
        try:
            return counter_totals(partition_counters(client.hgetall(RedisKeys().counters)))["posts_in"]
        except (redis.RedisError, OSError):
            return -1

    def tails() -> str:
        workers = "".join(
            f"\n{f.name}:\n{f.read_text(errors='replace')[-3000:]}" for f in sorted(worker_logs.glob("worker*.log"))
        )
        return f"lytte up log:\n{log()[-3000:]}\nworker logs:{workers or ' (none)'}"

    try:
        wait_until(lambda: "lytte is up: open" in log(), 180, "lytte up to be up")
        synth_from = time.time()
        wait_until(lambda: counted() >= 10 * UP_RATE, 120, "the worker under lytte up to count posts")
        victim = _worker_pids(log())[-1]
        before = counted()
        os.killpg(victim, signal.SIGKILL)
        try:
            wait_until(lambda: _worker_pids(log())[-1] != victim, 60, "lytte up to start a new worker")
        except AssertionError:
            raise AssertionError(
                f"lytte up did not start a new worker within 60 s of the kill -9 of its worker (pid {victim}):\n"
                f"{tails()}"
            ) from None
        fault_case.runs = 1
        wait_until(lambda: counted() >= before + 10 * UP_RATE, 180, "the counters to grow again after the restart")

        # A bucket whose minute ended before `cut` is complete in posts.raw below the ends read at `cut` (synth
        # dates a post when it sends it); once the worker has counted that far, Redis and the metrics topic
        # must hold such buckets exactly, and equal each other.
        first_closed = (int(synth_from) // 60 + 1) * 60 + CLOSED_AFTER_S
        time.sleep(max(0.0, first_closed - time.time()))
        cut = time.time()
        ends = raw_ends(settings.model_copy(update={"topic_prefix": "lytte"}))
        wait_until(lambda: counted() >= sum(ends.values()), 180, "the worker to count every post produced so far")
        posts = [Post.model_validate_json(r.value) for r in read_topic(settings, Topic.POSTS_RAW.name("lytte"))]
        expected = {k: v for k, v in expected_counts(watch_config, posts).items() if _closed(k[1], cut)}
        brands = watched_brands(watch_config)

        def closed_view() -> tuple[dict, dict]:
            in_redis = redis_bucket_counts(client, settings, brands)
            in_metrics = metrics_topic_counts(settings)
            return (
                {k: v for k, v in in_redis.items() if _closed(k[1], cut)},
                {k: v for k, v in in_metrics.items() if _closed(k[1], cut)},
            )

        with contextlib.suppress(AssertionError):
            wait_until(lambda: closed_view() == (expected, expected), 60, "closed buckets exact in Redis and metrics")
        in_redis, in_metrics = closed_view()
        lost, double = differences(Counter(expected), in_redis)
        lost_m, double_m = differences(Counter(expected), in_metrics)
        fault_case.lost_posts += max(lost, lost_m)
        fault_case.double_counted += max(double, double_m)
        stops = len(re.findall(r"worker(?:-\d+)? exited with code", log())) - 1
        fault_case.worker_stops += max(0, stops)
        fault_case.exact = in_redis == expected == in_metrics and stops <= 0
        assert expected, f"no closed bucket to compare (cut {cut}, posts {len(posts)})"
        assert in_redis == in_metrics, f"closed buckets: Redis {in_redis} != metrics topic {in_metrics}"
        assert in_redis == expected, f"closed buckets: Redis {in_redis}, expected from posts.raw {expected}"
        assert stops <= 0, f"the worker exited {stops} more time(s) than it was killed:\n{tails()}"
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            stop(up)
        client.close()


CLOSED_AFTER_S = 15  # a bucket counts as closed this long after its minute ended


def _closed(bucket_start: int, cut: float) -> bool:
    return bucket_start + 60 + CLOSED_AFTER_S <= cut
