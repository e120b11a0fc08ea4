"""The services underneath going away mid-stream, without anyone restarting the worker or the source:

- broker_restart: the (private) Kafka broker stopped with SIGTERM and started again on the same ports and
  storage;
- broker_kill9: the same with `kill -9`;
- redis_restart: the (private) redis-server killed with SIGKILL and started again, empty, on the same port:
  the worker fills the view again.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.faults.harness import (
    Feeder,
    drop_topics,
    kill_process_group,
    make_settings,
    post_records,
    posts_in,
    ready,
    settle_posts,
    wait,
)
from tests.integration.test_pipeline import synth_posts

pytestmark = pytest.mark.faults

N_POSTS = 20_000
RATE = 400  # posts/s: 50 s of stream
DOWN_S = 5.0  # how long a service stays down
WORKERS = 2


def _broker_case(fault_case, workers, broker, redis_server, tmp_path, watch_config, hard: bool) -> None:
    settings = make_settings(broker.bootstrap, redis_server.url, tmp_path / "home")
    client = redis.Redis.from_url(redis_server.url)
    posts = synth_posts(watch_config, N_POSTS, minutes=4.0, seed=41 + hard)

    for worker in [workers.start(settings) for _ in range(WORKERS)]:
        wait(lambda w=worker: ready(w), 120, "the workers ready", workers)
    feeder = Feeder(settings, post_records(posts), rate=RATE)
    feeder.start()
    wait(lambda: posts_in(client, settings) >= N_POSTS // 4, 180, "a quarter counted", workers)
    began = time.monotonic()
    if hard:
        kill_process_group(broker.process)
        broker.process = None
    else:
        broker.stop()
    down_at = f"broker down after {time.monotonic() - began:.1f} s: {posts_in(client, settings)} counted, "
    down_at += f"{feeder.sent} produced"
    time.sleep(DOWN_S)
    broker.start(timeout=180)
    up_again = f"broker up again {time.monotonic() - began:.1f} s after the {'kill -9' if hard else 'SIGTERM'}"
    n = feeder.result(600)

    verdict = settle_posts(fault_case, client, settings, watch_config, posts, n, workers, timeout=400, stall_s=180)
    fault_case.runs = 1
    fault_case.exact = verdict.exact
    client.close()
    assert verdict.exact, f"{verdict.report}\n{down_at}; {up_again}"


def test_broker_restart(fault_case, workers, private_broker, redis_server, tmp_path, watch_config):
    _broker_case(fault_case, workers, private_broker, redis_server, tmp_path, watch_config, hard=False)


def test_broker_kill9(fault_case, workers, private_broker, redis_server, tmp_path, watch_config):
    _broker_case(fault_case, workers, private_broker, redis_server, tmp_path, watch_config, hard=True)


def test_redis_restart(fault_case, workers, kafka_broker, private_redis, tmp_path, watch_config):
    settings = make_settings(kafka_broker.bootstrap, private_redis.url, tmp_path / "home")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5, socket_connect_timeout=2)
    posts = synth_posts(watch_config, N_POSTS, minutes=4.0, seed=51)
    try:
        for worker in [workers.start(settings) for _ in range(WORKERS)]:
            wait(lambda w=worker: ready(w), 120, "the workers ready", workers)
        feeder = Feeder(settings, post_records(posts), rate=RATE)
        feeder.start()
        wait(lambda: posts_in(client, settings) >= N_POSTS // 3, 180, "a third counted", workers)
        kill_process_group(private_redis.process)
        private_redis.process = None
        down_at = f"redis killed: {feeder.sent} produced"
        time.sleep(DOWN_S)
        private_redis.start()
        n = feeder.result(600)
        verdict = settle_posts(fault_case, client, settings, watch_config, posts, n, workers, timeout=300)
        fault_case.runs = 1
        fault_case.exact = verdict.exact
        assert verdict.exact, f"{verdict.report}\n{down_at}"
    finally:
        client.close()
        workers.stop_all()
        drop_topics(settings)
