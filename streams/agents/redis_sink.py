"""Writes the live view into Redis (layout: `schemas.redis_keys`). Every write is idempotent, so writing
the same bucket again after a crash repairs the view instead of corrupting it."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

import orjson
import redis.asyncio as aioredis

from schemas.alerts import Action, Alert, Incident
from schemas.pipeline import PartitionCounters
from schemas.records import BucketMetrics, ScoredPost
from schemas.redis_keys import DAY_FIELDS, RedisKeys
from schemas.settings import Settings
from schemas.watch import WatchConfig

log = logging.getLogger(__name__)

#: Bounds on every Redis call of the worker: a Redis that is away must not hold up the Kafka pipeline.
REDIS_TIMEOUT_S = 2.0
#: The alert view keeps this many transitions and incidents.
ALERT_HISTORY_KEPT = 500
INCIDENTS_KEPT = 100
ACKS_KEPT = 500

# A partial bucket (field "<epoch>:<raw partition>") and its minute in the index, trimmed to the newest N
# minutes (every partition's partial of a dropped minute goes with it), in one atomic step.
# ARGV: epoch, partition, partial JSON, minutes kept, partition count.
_WRITE_BUCKET = """
redis.call('HSET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #old, 2 do
    for p = 0, tonumber(ARGV[5]) - 1 do redis.call('HDEL', KEYS[1], old[i] .. ':' .. p) end
  end
end
"""


def day_counts(metrics: BucketMetrics) -> bytes:
    """A partial's counts for the day hash, in DAY_FIELDS order: posts 12 (3 reposts, 2 negative) ->
    b"[12,9,3,0,0,2,...]"."""
    return orjson.dumps([getattr(metrics, f) for f in DAY_FIELDS])


def display_post(event: ScoredPost) -> bytes:
    """The latest-posts entry for the wall: only what it shows, in a deterministic encoding so that writing
    the same post twice leaves one entry."""
    post = event.post
    return orjson.dumps(
        {
            "id": post.id,
            "created_at": post.created_at.isoformat(),
            "author_handle": post.author.handle,
            "author_name": post.author.display_name,
            "followers": post.author.followers,
            "verified": post.author.verified,
            "kind": post.kind.value,
            "text": post.text,
            "url": post.url,
            "compound": event.sentiment.compound,
            "label": event.sentiment.label,
            "language": event.language,
            "model": event.sentiment.model,  # what scored it: an operator's correction records it
            # where it was counted: an operator's correction is applied there
            "raw_partition": event.evidence.raw_partition,
            "raw_offset": event.evidence.raw_offset,
            "key_people": [p.handle for p in event.key_people],
        },
        option=orjson.OPT_SORT_KEYS,
    )


def connect(settings: Settings) -> aioredis.Redis:
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return aioredis.Redis.from_url(
        settings.redis, password=password, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )


class RedisSink:
    def __init__(self, settings: Settings, client: aioredis.Redis | None = None) -> None:
        self.keys = RedisKeys(settings.redis_prefix)
        self._settings = settings
        self._redis = client or connect(settings)
        self._write_bucket = self._redis.register_script(_WRITE_BUCKET)

    async def write_batch(
        self,
        buckets: list[BucketMetrics],
        posts: list[ScoredPost],
        counters: dict[int, PartitionCounters],
        counted: Iterable[int] = (),
    ) -> bool:
        """Write a batch in one round trip: the partial buckets it changed (latest state each; readers merge
        the partials of a minute with `schemas.records.merge_partials`), its posts into the latest-posts
        lists, its partitions' counters, the staleness stamp, and one change notice per brand. The notice
        carries the Kafka timestamps of the raw posts, so that `lytte bench` can measure produce-to-Redis
        latency.

        Returns False when the view had lost this worker's part (see `intact`) before the write, so that
        the caller writes the whole of it again."""
        now_ms = int(time.time() * 1000)
        keep_posts = self._settings.redis_posts_kept
        pipe = self._redis.pipeline(transaction=False)
        checks = self._check(pipe, counted)
        for metrics in buckets:
            brand = metrics.brand
            await self._write_bucket(
                keys=[self.keys.buckets(brand), self.keys.bucket_index(brand)],
                args=[
                    int(metrics.bucket_start.timestamp()),
                    metrics.raw_partition if metrics.raw_partition is not None else 0,
                    metrics.model_dump_json(),
                    self._settings.redis_buckets_kept,
                    self._settings.partitions,
                ],
                client=pipe,
            )
            await self._write_bucket(
                keys=[self.keys.day(brand), self.keys.day_index(brand)],
                args=[
                    int(metrics.bucket_start.timestamp()),
                    metrics.raw_partition if metrics.raw_partition is not None else 0,
                    day_counts(metrics),
                    self._settings.redis_day_minutes_kept,
                    self._settings.partitions,
                ],
                client=pipe,
            )
        by_brand: dict[str, list[ScoredPost]] = {}
        for event in posts:
            by_brand.setdefault(event.brand, []).append(event)
        for brand, events in by_brand.items():
            latest = self.keys.latest(brand)
            pipe.zadd(latest, {display_post(e): e.post.created_at.timestamp() for e in events})
            pipe.zremrangebyrank(latest, 0, -(keep_posts + 1))
        fields = {k: v for partition, c in counters.items() for k, v in c.as_fields(partition).items()}
        if fields:
            pipe.hset(self.keys.counters, mapping=fields)
        if buckets or posts:
            pipe.set(self.keys.updated, now_ms)
        if buckets:  # a new token per write (not a counter: a Redis that restarts empty must not repeat one)
            token = f"{now_ms}-{secrets.token_hex(4)}"
            pipe.hset(self.keys.versions, mapping={brand: token for brand in {m.brand for m in buckets}})
        for brand in sorted({m.brand for m in buckets} | set(by_brand)):
            notice = {
                "brand": brand,
                "buckets": sorted({int(m.bucket_start.timestamp()) for m in buckets if m.brand == brand}),
                "raw_timestamps_ms": [e.evidence.raw_timestamp_ms for e in by_brand.get(brand, [])],
                "written_ms": now_ms,
            }
            pipe.publish(self.keys.changes, orjson.dumps(notice))
        return _intact((await pipe.execute())[:checks])

    async def intact(self, counted: Iterable[int]) -> bool:
        """Whether the view still holds this worker's part: the watch key, and the counters of each raw
        partition in `counted` (those the worker has counted records of). Redis restarted empty, or a
        flushed database, loses them. Checked per partition because each worker writes only its own: the
        first worker to notice the loss writes the watch key again, and the others must still notice."""
        pipe = self._redis.pipeline(transaction=False)
        self._check(pipe, counted)
        return _intact(await pipe.execute())

    def _check(self, pipe, counted: Iterable[int]) -> int:
        """Queue the reads `intact` needs; returns how many results they take."""
        pipe.exists(self.keys.watch)
        marks = [f"last_offset:{p}" for p in sorted(counted)]
        if marks:
            pipe.hmget(self.keys.counters, marks)
        return 1 + bool(marks)

    async def write_alerts(self, records: list, firing: list, receivers: dict) -> bool:
        """The alert view in one round trip: every firing alert (the whole set, so a resolved one is gone), the
        new transitions into the history, each incident's latest record, the operators' acknowledgements and
        silences, the receivers' delivery status, and a change notice per brand. Trimmed to the newest
        `ALERT_HISTORY_KEPT` transitions, `INCIDENTS_KEPT` incidents and `ACKS_KEPT` acknowledgements."""
        k = self.keys
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(k.alerts_firing)
        if firing:
            pipe.hset(k.alerts_firing, mapping={a.fingerprint: a.model_dump_json() for a in firing})
        for record in records:
            if isinstance(record, Alert):
                pipe.zadd(k.alerts_history, {record.model_dump_json(): record.event_time.timestamp()})
            elif isinstance(record, Incident):
                pipe.hset(k.incidents, record.id, record.model_dump_json())
                pipe.zadd(k.incidents_index, {record.id: record.opened_at.timestamp()})
            elif isinstance(record, Action) and record.kind == "ack":
                target = record.fingerprint or record.incident or ""
                pipe.hset(k.acks, target, record.model_dump_json())
                pipe.zadd(k.acks_index, {target: record.at.timestamp()})
            elif isinstance(record, Action) and record.kind == "silence" and record.silence is not None:
                pipe.hset(k.silences, record.silence.id, record.silence.model_dump_json())
            elif isinstance(record, Action) and record.kind == "expire_silence" and record.silence_id:
                pipe.hdel(k.silences, record.silence_id)
        pipe.zremrangebyrank(k.alerts_history, 0, -(ALERT_HISTORY_KEPT + 1))
        if receivers:
            pipe.hset(k.receivers, mapping={name: orjson.dumps(status) for name, status in receivers.items()})
        now_ms = int(time.time() * 1000)
        for brand in sorted({r.brand or "" for r in records}):
            pipe.publish(k.changes, orjson.dumps({"brand": brand, "alerts": True, "written_ms": now_ms}))
        await pipe.execute()
        for data, index, kept in ((k.incidents, k.incidents_index, INCIDENTS_KEPT), (k.acks, k.acks_index, ACKS_KEPT)):
            old = await self._redis.zrange(index, 0, -(kept + 1))
            if old:
                await self._redis.hdel(data, *old)
                await self._redis.zrem(index, *old)
        return True

    async def write_watch(self, config: WatchConfig) -> bool:
        await self._redis.set(self.keys.watch, config.model_dump_json())
        return True

    async def close(self) -> None:
        await self._redis.aclose()


class ViewWriter:
    """Writes to the Redis view without ever holding up the pipeline, and repairs the view afterwards.

    A write that fails or times out is logged (once per outage), marks the view dirty and pauses writes
    for a backoff (1 s doubling to 30 s); the batches meanwhile skip Redis. The first write that goes
    through after that, or after a write found the view lost (Redis restarted empty), first runs
    `rebuild`, which writes everything the worker's tables hold. Redis is a derived view: Kafka stays the
    truth, so losing writes here never loses data.
    """

    def __init__(self, rebuild: Callable[[], Awaitable[None]], timeout_s: float = 10.0) -> None:
        self._rebuild = rebuild
        self._timeout_s = timeout_s
        self._dirty = False
        self._failures = 0
        self._retry_at = 0.0

    async def write(self, write: Callable[[], Awaitable[bool]]) -> None:
        if time.monotonic() < self._retry_at:
            self._dirty = True
            return
        try:
            if self._dirty:
                await asyncio.wait_for(self._rebuild(), self._timeout_s * 3)
                self._dirty = False
            intact = await asyncio.wait_for(write(), self._timeout_s)
        except Exception as exc:  # Redis trouble of any kind must not stop the pipeline
            self._failures += 1
            self._dirty = True
            delay = min(30.0, 2.0 ** (self._failures - 1))
            self._retry_at = time.monotonic() + delay
            if self._failures == 1:
                log.warning("Redis view: write failed (%s); retrying every %.0f-30 s meanwhile", exc, delay)
            return
        if self._failures:
            log.warning("Redis view: writes go through again after %d failed attempts", self._failures)
        self._failures = 0
        if not intact:
            log.warning("Redis view: the view was lost (Redis restarted?); writing it again")
            await self.repair()

    async def repair(self) -> None:
        """Write the whole view again now (after a table recovery), or as soon as Redis answers."""
        self._dirty = True
        await self.write(_nothing)


def _intact(checks: list) -> bool:
    """[1] -> True; [1, [b"41", b"7"]] -> True; [0] -> False (no watch key); [1, [b"41", None]] -> False."""
    return bool(checks[0]) and all(m is not None for m in (checks[1] if len(checks) > 1 else ()))


async def _nothing() -> bool:
    return True
