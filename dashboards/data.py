"""Reads for the dashboard: the Redis live view (key layout: `schemas.redis_keys`) and, to tell a stalled
pipeline from a quiet one, the end offsets of `posts.raw` in Kafka (`schemas.pipeline` judges)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis

from schemas.pipeline import (
    PartitionCounters,
    PipelineStatus,
    counter_totals,
    partition_counters,
    pipeline_status,
    stalled_for_s,
)
from schemas.records import BucketMetrics, merge_partials
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import WatchConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrandView:
    id: str
    name: str
    role: str
    buckets: list[BucketMetrics]
    latest: list[dict]


@dataclass(frozen=True)
class WallView:
    brands: list[BrandView]
    counters: dict[str, int]
    updated_ms: int | None
    configured: bool
    #: posts.raw against the counters; None when Kafka did not answer.
    pipeline: PipelineStatus | None
    #: When stalled: for how long (at least) nothing was handled while records waited; None if unknown.
    stalled_for_s: int | None


# -- Kafka ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawSnapshot:
    ends: dict[int, int]
    #: Kafka timestamp of the first waiting record of partitions that might be stalled.
    first_waiting_ms: dict[int, int] = field(default_factory=dict)


class RawOffsets:
    """The end offsets of `posts.raw`, and the Kafka timestamp of the first waiting record of each partition
    that has records waiting and handled nothing for `stall_after_ms` (only those can be stalled; the time of
    a record at an offset never changes, so each is read once).

    One long-lived kafka-python consumer without a group id, used only by a refresh thread, so that a page
    callback never waits on Kafka longer than WAIT_S; after an error it is closed and re-created on the next
    refresh. A read is reused for CACHE_S. `read` returns None ("Kafka unreachable") when the last refresh
    failed or nothing succeeded for UNREACHABLE_AFTER_S.
    """

    CACHE_S = 2.0
    WAIT_S = 1.5
    RETRY_S = 5.0  # after a failure, no new attempt before this
    UNREACHABLE_AFTER_S = 10.0
    ABANDON_S = 30.0  # a refresh thread stuck this long is left behind; the next one has its own consumer
    PARTITIONS_EVERY_S = 60.0
    REQUEST_TIMEOUT_MS = 5_000

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.bootstrap
        self.topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._generation = 0
        self._consumer = None
        self._partitions: list = []
        self._partitions_at = float("-inf")
        self._ends: dict[int, int] | None = None
        self._ok_at: float | None = None
        self._failed_at: float | None = None
        self._stamps: dict[tuple[int, int], int] = {}

    def read(self, counters: dict[int, PartitionCounters], now_ms: int, stall_after_ms: int) -> RawSnapshot | None:
        now = time.monotonic()
        started = None
        with self._lock:
            fresh = self._ok_at is not None and now - self._ok_at < self.CACHE_S and self._failed_at is None
            backing_off = self._failed_at is not None and now - self._failed_at < self.RETRY_S
            running = self._thread is not None and self._thread.is_alive()
            if running and now - self._started_at > self.ABANDON_S:
                self._generation += 1  # its results, if they ever come, are dropped
                self._consumer = None
                running = False
            if not (fresh or backing_off or running):
                self._generation += 1
                started = self._thread = threading.Thread(
                    target=self._refresh,
                    args=(self._generation, counters, now_ms, stall_after_ms),
                    name="lytte-raw-offsets",
                    daemon=True,
                )
                self._started_at = now
                started.start()
        if started is not None:
            started.join(self.WAIT_S)
        with self._lock:
            now = time.monotonic()
            if self._ends is None or self._failed_at is not None or now - self._ok_at > self.UNREACHABLE_AFTER_S:
                return None
            waiting = {
                p: self._stamps[(p, c.last_offset + 1)]
                for p, c in counters.items()
                if (p, c.last_offset + 1) in self._stamps
            }
            for p in self._ends:  # partitions nothing was handled from wait from offset 0
                if p not in counters and (p, 0) in self._stamps:
                    waiting[p] = self._stamps[(p, 0)]
            return RawSnapshot(dict(self._ends), waiting)

    def _refresh(self, generation: int, counters: dict[int, PartitionCounters], now_ms: int, stall_after_ms: int):
        consumer = None
        try:
            with self._lock:
                consumer = self._consumer if generation == self._generation else None
            if consumer is None:
                consumer = self._new_consumer()
            if time.monotonic() - self._partitions_at > self.PARTITIONS_EVERY_S or not self._partitions:
                from kafka import TopicPartition

                self._partitions = [
                    TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic))
                ]
                self._partitions_at = time.monotonic()
            ends = (
                {
                    tp.partition: end
                    for tp, end in consumer.end_offsets(self._partitions, self.REQUEST_TIMEOUT_MS).items()
                }
                if self._partitions
                else {}
            )
            wanted = {}
            for p, end in ends.items():
                c = counters.get(p, PartitionCounters())
                offset = c.last_offset + 1
                if end > offset and now_ms - c.handled_ms > stall_after_ms and (p, offset) not in self._stamps:
                    wanted[p] = offset
            stamps = self._first_records(consumer, wanted) if wanted else {}
            with self._lock:
                if generation != self._generation:
                    consumer.close(autocommit=False, timeout_ms=1000)
                    return
                self._consumer = consumer
                keep = {(p, c.last_offset + 1) for p, c in counters.items()} | {(p, 0) for p in ends}
                self._stamps = {k: v for k, v in (self._stamps | stamps).items() if k in keep}
                self._ends = ends
                self._ok_at = time.monotonic()
                self._failed_at = None
        except Exception as exc:
            log.warning("posts.raw end offsets from Kafka at %s: %s", self.bootstrap, exc)
            if consumer is not None:
                with contextlib.suppress(Exception):
                    consumer.close(autocommit=False, timeout_ms=1000)
            with self._lock:
                if generation == self._generation:
                    self._consumer = None
                    self._failed_at = time.monotonic()

    def _new_consumer(self):
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="lytte-dashboard",
            group_id=None,
            enable_auto_commit=False,
            allow_auto_create_topics=False,
            auto_offset_reset="earliest",
            bootstrap_timeout_ms=self.REQUEST_TIMEOUT_MS,
            request_timeout_ms=self.REQUEST_TIMEOUT_MS,
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=64 * 1024,
        )

    def _first_records(self, consumer, wanted: dict[int, int], budget_s: float = 1.0) -> dict[tuple[int, int], int]:
        """(partition, offset) -> Kafka timestamp of the record at that offset (or the first one kept after it)."""
        from kafka import TopicPartition

        tps = {TopicPartition(self.topic, p): offset for p, offset in wanted.items()}
        consumer.assign(list(tps))
        for tp, offset in tps.items():
            consumer.seek(tp, offset)
        found: dict[tuple[int, int], int] = {}
        deadline = time.monotonic() + budget_s
        while len(found) < len(tps) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                first = next((r for r in records if r.offset >= tps[tp]), None)
                if first is not None and (tp.partition, tps[tp]) not in found:
                    found[(tp.partition, tps[tp])] = first.timestamp
                    consumer.pause(tp)
        consumer.assign([])
        return found


# -- Redis ---------------------------------------------------------------------------------------------


class LiveView:
    def __init__(self, settings: Settings, client: redis.Redis | None = None, raw: RawOffsets | None = None) -> None:
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        self.redis = client or redis.Redis.from_url(settings.redis, password=password, socket_connect_timeout=2)
        self.keys = RedisKeys(settings.redis_prefix)
        self.raw = raw or RawOffsets(settings)
        self.stall_after_ms = int(settings.stall_after_s * 1000)

    def watch(self) -> WatchConfig | None:
        raw = self.redis.get(self.keys.watch)
        return WatchConfig.model_validate_json(raw) if raw else None

    def wall(self, now: datetime | None = None, latest_posts: int = 3) -> WallView:
        now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        watch = self.watch()
        watched = watch.watched() if watch is not None else []
        pipe = self.redis.pipeline(transaction=False)
        for w, _ in watched:
            pipe.hgetall(self.keys.buckets(w.id))
            pipe.zrevrange(self.keys.latest(w.id), 0, latest_posts - 1)
        pipe.hgetall(self.keys.counters)
        pipe.get(self.keys.updated)
        results = pipe.execute()
        brands = []
        for i, (w, role) in enumerate(watched):
            buckets = merge_partials(BucketMetrics.model_validate_json(v) for v in results[2 * i].values())
            latest = [orjson.loads(p) for p in results[2 * i + 1]]
            brands.append(BrandView(w.id, w.name, role, buckets, latest))
        counters = partition_counters(results[-2])
        updated = int(results[-1]) if results[-1] else None

        raw = self.raw.read(counters, now_ms, self.stall_after_ms)
        status = stalled = None
        if raw is not None:
            status = pipeline_status(raw.ends, counters, now_ms, raw.first_waiting_ms, self.stall_after_ms)
            stalled = stalled_for_s(status, raw.first_waiting_ms, now_ms)
        return WallView(brands, counter_totals(counters), updated, watch is not None, status, stalled)

    def changes(self):
        """A pub/sub subscription to the change channel (caller closes it)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.keys.changes)
        return pubsub
