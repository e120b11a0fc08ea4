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
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboards.refresh import BackgroundRefresh, State, Timing
from dashboards.wall_model import BrandData
from schemas.alerts import Action, Alert, AlertStatus, Incident
from schemas.pipeline import (
    PartitionCounters,
    PipelineStatus,
    counter_totals,
    partition_counters,
    pipeline_status,
    stalled_for_s,
)
from schemas.records import BucketMetrics, merge_partials
from schemas.redis_keys import DAY_FIELDS, RedisKeys
from schemas.settings import Settings
from schemas.source_health import SourceReport
from schemas.topics import Topic
from schemas.watch import WatchConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WallView:
    brands: list[BrandData]
    counters: dict[str, int]
    updated_ms: int | None
    configured: bool
    #: posts.raw against the counters; None when Kafka did not answer.
    pipeline: PipelineStatus | None
    #: When stalled: for how long (at least) nothing was handled while records waited; None if unknown.
    stalled_for_s: int | None
    #: every source's last report (`{prefix}:sources`); unreadable reports left out
    sources: list[SourceReport] = field(default_factory=list)


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

    One long-lived kafka-python consumer without a group id, used only by a refresh thread
    (`dashboards.refresh.BackgroundRefresh`), so that a page callback never waits on Kafka longer than WAIT_S;
    after an error it is closed and re-created on the next refresh. A read is reused for CACHE_S. `read` returns
    None ("Kafka unreachable") when the last refresh failed or nothing succeeded for UNREACHABLE_AFTER_S.
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
        self._refresh = BackgroundRefresh(
            "lytte-raw-offsets", self._fetch, self._keep, Timing.of(self), drop=lambda r: self._close(r[0])
        )
        self._lock = self._refresh.lock
        #: kept between refreshes; a refresh takes it out while it uses it
        self._consumer = None
        self._partitions: list = []
        self._partitions_at = float("-inf")
        self._ends: dict[int, int] | None = None
        self._stamps: dict[tuple[int, int], int] = {}

    def read(self, counters: dict[int, PartitionCounters], now_ms: int, stall_after_ms: int) -> RawSnapshot | None:
        self._refresh.read(counters, now_ms, stall_after_ms)
        with self._lock:
            if self._refresh.state() is not State.FRESH:
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

    def _fetch(self, counters: dict[int, PartitionCounters], now_ms: int, stall_after_ms: int):
        """(consumer, counters, ends, stamps) of one refresh, on the refresh thread."""
        with self._lock:
            consumer, self._consumer = self._consumer, None
        try:
            consumer = consumer or self._new_consumer()
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
            return consumer, counters, ends, stamps
        except Exception as exc:
            log.warning("posts.raw end offsets from Kafka at %s: %s", self.bootstrap, exc)
            if consumer is not None:
                self._close(consumer)
            raise

    def _keep(self, result) -> None:
        """Take a refresh's ends and timestamps (under the lock)."""
        consumer, counters, ends, stamps = result
        self._consumer = consumer
        keep = {(p, c.last_offset + 1) for p, c in counters.items()} | {(p, 0) for p in ends}
        self._stamps = {k: v for k, v in (self._stamps | stamps).items() if k in keep}
        self._ends = ends

    @staticmethod
    def _close(consumer) -> None:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False, timeout_ms=1000)

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


#: every Redis call of a dashboard read answers within this or fails (the page then says Redis is unreachable)
REDIS_TIMEOUT_S = 5.0


def redis_client(settings: Settings, timeout_s: float | None = None) -> redis.Redis:
    """The dashboard's Redis: every connect and call bounded by `timeout_s` (default `REDIS_TIMEOUT_S`), no
    retries, so that a Redis that is down or hangs shows as such on the screen instead of holding a thread."""
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    bound = timeout_s or REDIS_TIMEOUT_S
    return redis.Redis.from_url(
        settings.redis,
        password=password,
        socket_timeout=bound,
        socket_connect_timeout=bound,
        retry=Retry(NoBackoff(), 0),
    )


class LiveView:
    def __init__(self, settings: Settings, client: redis.Redis | None = None, raw: RawOffsets | None = None) -> None:
        self.redis = client or redis_client(settings)
        self.keys = RedisKeys(settings.redis_prefix)
        self.raw = raw or RawOffsets(settings)
        self.stall_after_ms = int(settings.stall_after_s * 1000)
        self.slow_refresh_ms = int(settings.dashboard_slow_refresh_s * 1000)
        self._cache: dict[str, BrandBuckets] = {}
        self._cache_lock = threading.Lock()

    def watch(self) -> WatchConfig | None:
        raw = self.redis.get(self.keys.watch)
        return WatchConfig.model_validate_json(raw) if raw else None

    def wall(self, now: datetime | None = None, latest_posts: int = 20) -> WallView:
        """Everything the wall shows: one Redis round trip for what is small (latest posts, counters, alerts,
        the brands' versions), a second for the buckets of brands whose version changed since the last read
        (`BrandBuckets`), plus the cached Kafka end offsets."""
        now = now or datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        watch = self.watch()
        watched = watch.watched() if watch is not None else []
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(k.versions)
        for w, _ in watched:
            pipe.zrevrange(k.latest(w.id), 0, latest_posts - 1)
        pipe.hgetall(k.counters)
        pipe.get(k.updated)
        pipe.hvals(k.alerts_firing)
        pipe.zrangebyscore(k.alerts_history, now.timestamp() - 2 * 3600, "+inf")
        pipe.hvals(k.incidents)
        pipe.hvals(k.acks)
        pipe.hvals(k.sources)
        raw_versions, *results = pipe.execute()
        latest, rest = results[: len(watched)], results[len(watched) :]
        raw_counters, raw_updated, raw_firing, raw_history, raw_incidents, raw_acks, raw_sources = rest
        versions = {b.decode(): v.decode() for b, v in raw_versions.items()}
        buckets = self._buckets([w.id for w, _ in watched], versions)
        firing = _parse_all(Alert, raw_firing)
        history = _parse_all(Alert, raw_history)
        incidents = _parse_all(Incident, raw_incidents)
        acks: dict[str, Action] = {}
        for action in _parse_all(Action, raw_acks):
            for target in (action.fingerprint, action.incident):
                if target:
                    acks[target] = action
        brands = []
        for i, (w, role) in enumerate(watched):
            open_incidents = sorted(
                (x for x in incidents if x.brand == w.id and x.status != "resolved"), key=lambda x: x.opened_at
            )
            brands.append(
                BrandData(
                    id=w.id,
                    name=w.name,
                    role=role,
                    buckets=buckets[w.id].merged,
                    day=buckets[w.id].day,
                    latest=[orjson.loads(p) for p in latest[i]],
                    firing=[a for a in firing if a.brand == w.id and a.status == AlertStatus.FIRING],
                    history=[a for a in history if a.brand == w.id],
                    incident=open_incidents[-1] if open_incidents else None,
                    acks=acks,
                )
            )
        counters = partition_counters(raw_counters)
        updated = int(raw_updated) if raw_updated else None

        raw = self.raw.read(counters, now_ms, self.stall_after_ms)
        status = stalled = None
        if raw is not None:
            status = pipeline_status(raw.ends, counters, now_ms, raw.first_waiting_ms, self.stall_after_ms)
            stalled = stalled_for_s(status, raw.first_waiting_ms, now_ms)
        sources = _parse_all(SourceReport, raw_sources)
        return WallView(brands, counter_totals(counters), updated, watch is not None, status, stalled, sources)

    def _buckets(self, brands: list[str], versions: dict[str, str]) -> dict[str, BrandBuckets]:
        """Each brand's merged buckets and day counts, read again only when its version changed (a brand
        without a version, as before any write, is read every time). The day hash, 24 times the size of the
        buckets, is read again at most every `DAY_REREAD_S`: its minutes of the last hours are the merged
        buckets', and only late posts change the older ones."""
        with self._cache_lock:
            cached = dict(self._cache)
        stale = [b for b in brands if b not in cached or versions.get(b) is None or cached[b].version != versions[b]]
        if stale:
            now = time.monotonic()
            day_due = {b for b in stale if b not in cached or now - cached[b].day_read_at >= DAY_REREAD_S}
            pipe = self.redis.pipeline(transaction=False)
            for b in stale:
                pipe.hgetall(self.keys.buckets(b))
                if b in day_due:
                    pipe.hgetall(self.keys.day(b))
            results = iter(pipe.execute())
            for b in stale:
                previous = cached.get(b) or BrandBuckets()
                fields = next(results)
                day_fields = next(results) if b in day_due else None
                cached[b] = previous.refreshed(versions.get(b), fields, day_fields, now)
            with self._cache_lock:
                self._cache = {b: cached[b] for b in brands}
        return cached

    def changes(self):
        """A pub/sub subscription to the change channel (caller closes it)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.keys.changes)
        return pubsub


@dataclass(frozen=True)
class BrandBuckets:
    """One brand's buckets as last read, and the parsed partials behind them, so that a read after a write
    parses only the partials that changed and merges only the minutes they belong to (a wall screen redraws
    up to four times a second; parsing every partial of three hours each time cost most of the server's CPU).

    Scenario: 180 minutes of 4 partials read at version "a"; a write changes one partial -> version "b", and
    `refreshed` parses that one partial and merges its minute again; the other 179 merged minutes are reused."""

    version: str | None = None
    partials: dict[bytes, tuple[bytes, BucketMetrics]] = field(default_factory=dict)  # field -> (raw, parsed)
    minutes: dict[int, tuple[tuple[bytes, ...], BucketMetrics]] = field(default_factory=dict)  # epoch s -> merged
    merged: list[BucketMetrics] = field(default_factory=list)
    #: epoch minute -> (posts, negative) for the day chart: the day hash's, the merged buckets' where they reach
    day: dict[int, tuple[int, int]] = field(default_factory=dict)
    day_fields: dict[bytes, bytes] = field(default_factory=dict)  # the day hash as last read
    day_hash: dict[int, tuple[int, int]] = field(default_factory=dict)  # what it adds up to
    day_read_at: float = float("-inf")  # when (time.monotonic)

    def refreshed(
        self, version: str | None, fields: dict[bytes, bytes], day_fields: dict | None = None, now: float = 0.0
    ) -> BrandBuckets:
        """The buckets after a read of the buckets hash and, when `day_fields` is given, of the day hash."""
        partials: dict[bytes, tuple[bytes, BucketMetrics]] = {}
        for name, raw in fields.items():
            known = self.partials.get(name)
            partials[name] = (
                known if known is not None and known[0] == raw else (raw, BucketMetrics.model_validate_json(raw))
            )
        by_minute: dict[int, list[bytes]] = {}
        for name in sorted(partials):
            by_minute.setdefault(int(name.split(b":", 1)[0]), []).append(name)
        minutes: dict[int, tuple[tuple[bytes, ...], BucketMetrics]] = {}
        for minute, names in by_minute.items():
            raws = tuple(partials[n][0] for n in names)
            known_minute = self.minutes.get(minute)
            if known_minute is not None and known_minute[0] == raws:
                minutes[minute] = known_minute
            else:
                minutes[minute] = (raws, merge_partials(partials[n][1] for n in names)[0])
        merged = [minutes[m][1] for m in sorted(minutes)]
        day_read_at, raw_day, day_hash = self.day_read_at, self.day_fields, self.day_hash
        if day_fields is not None:
            day_read_at, raw_day, day_hash = now, day_fields, day_totals(day_fields, self.day_fields, self.day_hash)
        # the minutes the buckets hold are exact and newer than any read of the day hash
        first = min(minutes) // 60 if minutes else None
        day = {m: counts for m, counts in day_hash.items() if first is None or m < first}
        day.update((m // 60, (b.posts, b.negative)) for m, (_, b) in minutes.items())
        return BrandBuckets(version, partials, minutes, merged, day, raw_day, day_hash, day_read_at)


#: how often the wall reads a brand's whole day hash again (see `LiveView._buckets`)
DAY_REREAD_S = 30.0
DayTotals = dict[int, tuple[int, int]]


def day_totals(
    fields: dict[bytes, bytes], before: dict[bytes, bytes] | None = None, totals: DayTotals | None = None
) -> DayTotals:
    """The day hash (`<epoch>:<partition>` -> counts in `DAY_FIELDS` order) as epoch minute -> (posts,
    negative), the partitions of a minute added up: {b"600:0": b"[3,...,1,..]", b"600:1": ...} -> {10: (..)}.

    Given the last read's fields (`before`) and what they added up to (`totals`), only the fields that changed
    are parsed and moved (a day of four partitions is 5,760 fields, and a write changes a few): the same result
    as adding up everything again, at a fraction of the cost. A minute whose fields are all gone is dropped."""
    posts_at, negative_at = DAY_FIELDS.index("posts"), DAY_FIELDS.index("negative")

    def counts(value: bytes) -> tuple[int, int]:
        values = orjson.loads(value)
        return values[posts_at], values[negative_at]

    def minute(name: bytes | str) -> int:
        return int(name.split(b":" if isinstance(name, bytes) else ":", 1)[0]) // 60

    if before is None or totals is None:
        before, totals = {}, {}
    changed = [(name, value) for name, value in fields.items() if before.get(name) != value]
    removed = before.keys() - fields.keys()
    if not changed and not removed:
        return totals
    out = dict(totals)
    for name, sign, value in [
        *((name, -1, before[name]) for name in removed),
        *((name, -1, before[name]) for name, _ in changed if name in before),
        *((name, 1, value) for name, value in changed),
    ]:
        posts, negative = counts(value)
        m = minute(name)
        was_posts, was_negative = out.get(m, (0, 0))
        out[m] = (was_posts + sign * posts, was_negative + sign * negative)
    if removed:
        for m in {minute(name) for name in removed} - {minute(name) for name in fields}:
            out.pop(m, None)
    return out


def _parse_all(model, raws) -> list:
    """Records of one kind from Redis values; one that does not parse is skipped with a warning (a newer
    writer's record must not blank the wall)."""
    out = []
    for raw in raws:
        try:
            out.append(model.model_validate_json(raw))
        except ValueError as exc:
            log.warning("live view: a %s that does not parse was skipped (%s)", model.__name__, exc)
    return out
