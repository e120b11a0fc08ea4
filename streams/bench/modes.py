"""The bench modes. Each runs on fresh topics, app id and Redis prefix with workers of its own: first a
warm-up (every worker in the group, tables recovered, first batches through), then the measured posts,
timed from the first produce until every one of them is counted in the Redis buckets."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from schemas.pipeline import partition_counters
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.bench.latency import LatencyListener, percentile
from streams.bench.profile import Profiler
from streams.bench.services import Workers, bucket_total, end_offsets, mode_settings, wait
from streams.core.matching import Matcher
from streams.sentiment.vader import VaderScorer
from streams.sources.producer import PostProducer, post_record
from streams.sources.synth import Incident, SynthSource
from streams.topics_admin import create_topics

WARMUP = 200
JOIN_TIMEOUT_S = 180
DRAIN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Bench:
    """What every mode of a run shares."""

    settings: Settings  # pointing at the run's broker and Redis
    watch: WatchConfig
    run: str
    home: Path
    workers: int


@dataclass
class ModeResult:
    posts: int
    seconds: float  # first produce -> every post in the Redis buckets
    produce_s: float
    latencies_ms: list[int]
    rss_mb: float
    raw_partitions: dict[int, int]  # posts handled per posts.raw partition (counters posts_in)
    scored_partitions: dict[int, int] = field(default_factory=dict)  # records per posts.scored partition
    cpu_s: float = math.nan  # CPU time of all workers while measured
    load: float = math.nan  # the machine's 1-minute load average when the measurement started

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.seconds

    @property
    def produce_rate(self) -> float:
        return self.posts / self.produce_s

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def skew(self) -> float:
        return partition_skew(self.raw_partitions)


def partition_skew(per_partition: Mapping[int, int]) -> float:
    """The busiest partition's work over the mean of all partitions: 1.0 is even, the partition count means
    all work in one partition; nan when nothing was handled.

    >>> partition_skew({0: 10, 1: 10, 2: 10, 3: 10}), partition_skew({0: 40, 1: 0, 2: 0, 3: 0})
    (1.0, 4.0)
    """
    total = sum(per_partition.values())
    if not per_partition or total <= 0:
        return math.nan
    return max(per_partition.values()) / (total / len(per_partition))


def differences(before: Mapping[int, int], after: Mapping[int, int], partitions: int) -> dict[int, int]:
    """Per partition 0..partitions-1 (and any other seen): after less before, missing counted as 0."""
    keys = sorted(set(range(partitions)) | set(before) | set(after))
    return {p: after.get(p, 0) - before.get(p, 0) for p in keys}


# -- posts ------------------------------------------------------------------------------------------------


def synth_posts(watch: WatchConfig, count: int, seed: int, rate: float, incident: Incident | None) -> list[Post]:
    """`count` synth posts, their times `count / rate` seconds long, ending a minute ago."""
    source = SynthSource(watch, rate=rate, seed=seed, incident=incident)
    start = datetime.now(UTC) - timedelta(seconds=count / rate + 60)
    return [post for _, post in source.schedule(start, count)]


def hot_brand_posts(watch: WatchConfig, count: int, seed: int) -> list[Post]:
    """Synth posts (as varied as the mixed ones) that all name the first watched brand and nothing else
    watched: the source is given a watch list of that brand alone and no background chatter."""
    hot = watch.model_copy(update={"brands": [watch.brands[0]], "competitors": []})
    source = SynthSource(hot, rate=max(1.0, count / 300), seed=seed, incident=None, chatter_share=0.0)
    start = datetime.now(UTC) - timedelta(minutes=6)
    return [post for _, post in source.schedule(start, count)]


def vader_posts_per_s(texts: list[str]) -> float:
    scorer = VaderScorer()
    t = time.perf_counter()
    for text in texts:
        scorer.score(text)
    return len(texts) / (time.perf_counter() - t)


# -- one mode ---------------------------------------------------------------------------------------------


class ModeRun:
    """One mode's topics, workers, Redis client and latency listener, from `with` to its end."""

    def __init__(self, bench: Bench, mode: str) -> None:
        self.mode = mode
        self.settings = mode_settings(bench.settings, bench.run, mode)
        self.keys = RedisKeys(self.settings.redis_prefix)
        self.matcher = Matcher(bench.watch)
        self.brands = [w.id for w, _ in bench.watch.watched()]
        self.workers = Workers(self.settings, bench.workers, bench.home, mode)
        self.expected = 0  # posts the Redis buckets should count so far

    def __enter__(self) -> ModeRun:
        create_topics(self.settings)
        self.client = redis.Redis.from_url(self.settings.redis)
        self.listener = LatencyListener(self.client, self.keys.changes)
        self.listener.start()
        self.workers.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        self.workers.stop()
        self.client.close()

    def all_counted(self) -> bool:
        """Whether the Redis buckets count every post produced so far."""
        return bucket_total(self.client, self.keys, self.brands) == self.expected

    def raw_handled(self) -> dict[int, int]:
        return {p: c.posts_in for p, c in partition_counters(self.client.hgetall(self.keys.counters)).items()}

    def scored_ends(self) -> dict[int, int]:
        return end_offsets(self.settings, Topic.POSTS_SCORED.name(self.settings.topic_prefix))

    def produce(self, posts: list[Post], rate: float | None = None) -> float:
        """Send the posts (all at once, or `rate` per second) and wait for the broker's acks; returns the
        seconds from the first send to the last ack."""
        records = [post_record(p) for p in posts]
        self.expected += sum(len(self.matcher.brands(p.text)) for p in posts)
        with PostProducer(self.settings) as producer:
            t0 = time.perf_counter()
            for i, (key, value) in enumerate(records):
                if rate is not None and (ahead := t0 + i / rate - time.perf_counter()) > 0:
                    time.sleep(ahead)
                producer.send_raw(key, value)
            producer.flush()
            return time.perf_counter() - t0

    def warm_up(self, posts: list[Post]) -> None:
        self.workers.wait_joined(JOIN_TIMEOUT_S)
        self.produce(posts)
        wait(self.all_counted, JOIN_TIMEOUT_S, "the warm-up posts", self.workers)
        print(f"bench: {self.mode}: {self.workers.count} worker(s) warm; producing", flush=True)

    def measure(self, posts: list[Post], rate: float | None = None, profiler: Profiler | None = None) -> ModeResult:
        raw_before, scored_before = self.raw_handled(), self.scored_ends()
        if profiler is not None:
            profiler.start(self.workers.pids)
        try:
            load, cpu_before = os.getloadavg()[0], self.workers.cpu_seconds()
            start_ms = int(time.time() * 1000)
            t0 = time.perf_counter()
            produce_s = self.produce(posts, rate)
            print(f"bench: {self.mode}: produced {len(posts):,} posts in {produce_s:.1f} s", flush=True)
            drain_s = wait(self.all_counted, DRAIN_TIMEOUT_S, "every post in Redis", self.workers)
            seconds = time.perf_counter() - t0
            cpu_s = self.workers.cpu_seconds() - cpu_before
        finally:
            if profiler is not None:
                profiler.stop()
        print(f"bench: {self.mode}: every post in Redis {drain_s:.1f} s after the last was acked", flush=True)
        time.sleep(0.5)  # the last notices
        partitions = self.settings.partitions
        return ModeResult(
            posts=len(posts),
            seconds=seconds,
            produce_s=produce_s,
            latencies_ms=self.listener.since(start_ms),
            rss_mb=self.workers.peak_rss_mb(),
            raw_partitions=differences(raw_before, self.raw_handled(), partitions),
            scored_partitions=differences(scored_before, self.scored_ends(), partitions),
            cpu_s=cpu_s,
            load=load,
        )


def report(mode: str, r: ModeResult) -> None:
    print(
        f"bench: {mode}: {r.posts:,} posts in {r.seconds:.1f} s = {r.posts_per_s:,.0f} posts/s "
        f"(produced at {r.produce_rate:,.0f}/s); latency p50 {r.p50_ms:.0f} ms p99 {r.p99_ms:.0f} ms "
        f"({len(r.latencies_ms):,} samples); worker peak RSS {r.rss_mb:.0f} MB",
        flush=True,
    )
    print(
        f"bench: {mode}: the workers used {r.cpu_s / r.seconds:.2f} CPU cores on average "
        f"(machine load average {r.load:.1f} at the start, {os.cpu_count()} cores)",
        flush=True,
    )
    raw = " ".join(f"{p}:{n}" for p, n in r.raw_partitions.items())
    scored = " ".join(f"{p}:{n}" for p, n in r.scored_partitions.items())
    print(
        f"bench: {mode}: per posts.raw partition {raw} (busiest/mean {r.skew:.2f}); "
        f"per posts.scored partition {scored} (busiest/mean {partition_skew(r.scored_partitions):.2f})",
        flush=True,
    )


# -- the modes ----------------------------------------------------------------------------------------------


def mixed(bench: Bench, n: int, profiler: Profiler | None) -> tuple[ModeResult, float]:
    """Today's run: the synth source as it is, all posts at once; returns the result and raw VADER posts/s."""
    print(f"bench: mixed: generating {n:,} synth posts", flush=True)
    posts = synth_posts(bench.watch, n + WARMUP, seed=42, rate=max(1.0, n / 300), incident=Incident(2, 1))
    warmup, posts = posts[:WARMUP], posts[WARMUP:]
    texts = [p.text for p in posts]
    print(f"bench: mixed: distinct texts {len(set(texts)) / len(texts):.1%}", flush=True)
    vader = vader_posts_per_s(texts)
    print(f"bench: raw VADER {vader:,.0f} posts/s", flush=True)
    with ModeRun(bench, "mixed") as run:
        run.warm_up(warmup)
        result = run.measure(posts, profiler=profiler)
    report("mixed", result)
    return result, vader


def hot(bench: Bench, n: int) -> ModeResult:
    """Every post about the first watched brand, all posts at once."""
    brand = bench.watch.brands[0].id
    print(f"bench: hot: generating {n:,} synth posts about {brand} only", flush=True)
    posts = hot_brand_posts(bench.watch, n + WARMUP, seed=43)
    warmup, posts = posts[:WARMUP], posts[WARMUP:]
    matcher = Matcher(bench.watch)
    only = sum([m.brand for m in matcher.brands(p.text)] == [brand] for p in posts) / len(posts)
    texts = {p.text for p in posts}
    print(f"bench: hot: naming {brand} alone {only:.1%}; distinct texts {len(texts) / len(posts):.1%}", flush=True)
    with ModeRun(bench, "hot") as run:
        run.warm_up(warmup)
        result = run.measure(posts)
    report("hot", result)
    return result


def steady(bench: Bench, rate: float, seconds: float) -> ModeResult:
    """Mixed synth posts at a fixed rate: latency when the worker is (meant to be) keeping up."""
    count = max(1, round(rate * seconds))
    print(f"bench: steady: {count:,} synth posts at {rate:,.0f}/s for {seconds:.0f} s", flush=True)
    posts = synth_posts(bench.watch, count + WARMUP, seed=44, rate=rate, incident=None)
    warmup, posts = posts[:WARMUP], posts[WARMUP:]
    with ModeRun(bench, "steady") as run:
        run.warm_up(warmup)
        result = run.measure(posts, rate=rate)
    report("steady", result)
    return result
