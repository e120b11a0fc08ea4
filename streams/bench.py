"""`lytte bench`: end-to-end throughput and latency against real Kafka and Redis, with VADER as baseline.

In one run: (a) raw VADER posts/s on the same texts in this process; (b) end-to-end posts/s from the first
produce until every post is reflected in the Redis buckets; (c) p50/p99 latency from produce (the Kafka
record timestamp) to the Redis write; (d) the worker's peak RSS. The texts come from the synth source,
which repeats about as rarely as a real stream. Last line:

    bench: e2e_posts_per_s=<n> vader_posts_per_s=<n> ratio=<b/a> p50_ms=<n> p99_ms=<n> rss_mb=<n>
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import redis

from schemas.pipeline import counter_totals, partition_counters
from schemas.records import BucketMetrics
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.watch import load_watch_config
from streams.core.matching import Matcher
from streams.local.kafka.launcher import KafkaBroker
from streams.local.processes import ServiceError, child_env, free_port, spawn_lytte, stop
from streams.local.redis import LocalRedis
from streams.sentiment.vader import VaderScorer
from streams.sources.producer import PostProducer
from streams.sources.synth import Incident, SynthSource
from streams.topics_admin import create_topics

WARMUP = 200


def _peak_rss_mb(pid: int) -> float:
    """VmHWM: the kernel's own record of the process's peak resident set."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Latencies(threading.Thread):
    def __init__(self, client: redis.Redis, channel: str) -> None:
        super().__init__(daemon=True)
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)
        self.samples: list[int] = []
        self.recording = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            message = self.pubsub.get_message(timeout=0.2)
            if message is not None and self.recording:
                notice = orjson.loads(message["data"])
                self.samples.extend(notice["written_ms"] - ts for ts in notice["raw_timestamps_ms"])


def _bucket_total(client: redis.Redis, keys: RedisKeys, brands: list[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for brand in brands:
        pipe.hvals(keys.buckets(brand))
    return sum(BucketMetrics.model_validate_json(v).posts for values in pipe.execute() for v in values)


def _wait(check, timeout: float, what: str, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if worker.poll() is not None:
            raise ServiceError(f"the worker exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_bench(settings: Settings, n: int = 100_000) -> None:
    watch = load_watch_config(settings.watch_config)
    run = uuid.uuid4().hex[:8]
    home = Path(tempfile.mkdtemp(prefix="lytte-bench-"))
    started: list = []
    try:
        if settings.kafka_bootstrap is None:
            broker = KafkaBroker(home / "kafka", free_port(), free_port(), settings.cache_dir, settings.kafka_home)
            broker.start()
            started.append(broker)
            settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        if settings.redis_url is None:
            server = LocalRedis(home / "redis", free_port())
            server.start()
            started.append(server)
            settings = settings.model_copy(update={"redis_url": server.url})
        settings = settings.model_copy(
            update={"topic_prefix": f"bench{run}", "app_id": f"bench{run}", "redis_prefix": f"bench{run}"}
        )
        _bench(settings, watch, n, home)
    finally:
        for service in reversed(started):
            service.stop()


def _bench(settings: Settings, watch, n: int, home: Path) -> None:
    print(f"bench: generating {n:,} synth posts", flush=True)
    source = SynthSource(watch, rate=max(1.0, n / 300), seed=42, incident=Incident(at_minute=2, minutes=1))
    start = datetime.now(UTC) - timedelta(minutes=6)
    posts = [post for _, post in source.schedule(start, n + WARMUP)]
    warmup, posts = posts[:WARMUP], posts[WARMUP:]
    texts = [p.text for p in posts]
    print(f"bench: distinct texts {len(set(texts)) / len(texts):.1%}", flush=True)

    scorer = VaderScorer()
    t = time.perf_counter()
    for text in texts:
        scorer.score(text)
    vader_rate = len(texts) / (time.perf_counter() - t)
    print(f"bench: raw VADER {vader_rate:,.0f} posts/s", flush=True)

    matcher = Matcher(watch)
    brands = [w.id for w, _ in watch.watched()]
    expected_warmup = sum(len(matcher.brands(p.text)) for p in warmup)
    expected_total = expected_warmup + sum(len(matcher.brands(t)) for t in texts)
    payloads = [(p.raw_key, p.model_dump_json().encode()) for p in posts]

    create_topics(settings)
    worker = spawn_lytte(["worker"], child_env(settings), home / "worker.log")
    client = redis.Redis.from_url(settings.redis)
    keys = RedisKeys(settings.redis_prefix)
    latencies = _Latencies(client, keys.changes)
    latencies.start()
    try:
        with PostProducer(settings) as producer:
            for post in warmup:
                producer.send(post)
        _wait(lambda: _bucket_total(client, keys, brands) == expected_warmup, 180, "the warm-up posts", worker)
        print("bench: worker warm; producing", flush=True)

        latencies.recording = True
        t0 = time.perf_counter()
        with PostProducer(settings) as producer:
            for key, value in payloads:
                producer.send_raw(key, value)
        produced_s = time.perf_counter() - t0
        print(f"bench: produced {n:,} posts in {produced_s:.1f} s", flush=True)
        _wait(lambda: _bucket_total(client, keys, brands) == expected_total, 600, "every post in Redis", worker)
        e2e_s = time.perf_counter() - t0
        time.sleep(0.5)
        latencies.recording = False
        totals = counter_totals(partition_counters(client.hgetall(keys.counters)))
        rss = _peak_rss_mb(worker.pid)
    finally:
        latencies.done.set()
        stop(worker)
        client.close()

    e2e_rate = n / e2e_s
    samples = sorted(latencies.samples)
    p50 = statistics.median(samples) if samples else float("nan")
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] if samples else float("nan")
    print(f"bench: counters {totals}; {len(samples):,} latency samples; e2e {e2e_s:.1f} s", flush=True)
    print(
        f"bench: e2e_posts_per_s={e2e_rate:.0f} vader_posts_per_s={vader_rate:.0f} ratio={e2e_rate / vader_rate:.3f} "
        f"p50_ms={p50:.0f} p99_ms={p99:.0f} rss_mb={rss:.0f}",
        flush=True,
    )
