"""Writes the live view into Redis (layout: `schemas.redis_keys`). Every write is idempotent, so writing
the same bucket again after a crash repairs the view instead of corrupting it."""

from __future__ import annotations

import time

import orjson
import redis.asyncio as aioredis

from schemas.records import BucketMetrics, ScoredPost
from schemas.redis_keys import RedisKeys, counter_field
from schemas.settings import Settings
from schemas.watch import WatchConfig
from streams.counters import PartitionCounters

# A bucket and its index, trimmed to the newest N buckets, in one atomic step.
_WRITE_BUCKET = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #old, 2 do redis.call('HDEL', KEYS[1], old[i]) end
end
"""


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
            "key_people": [p.handle for p in event.key_people],
        },
        option=orjson.OPT_SORT_KEYS,
    )


def connect(settings: Settings) -> aioredis.Redis:
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return aioredis.Redis.from_url(settings.redis, password=password)


class RedisSink:
    def __init__(self, settings: Settings, client: aioredis.Redis | None = None) -> None:
        self.keys = RedisKeys(settings.redis_prefix)
        self._settings = settings
        self._redis = client or connect(settings)
        self._write_bucket = self._redis.register_script(_WRITE_BUCKET)

    async def write_view(self, buckets: list[BucketMetrics], posts: list[ScoredPost]) -> None:
        """Write a batch in one round trip: the buckets it changed (latest state each), its posts into the
        latest-posts lists, the staleness stamp, and one change notice per brand. The notice carries the
        Kafka timestamps of the raw posts, so that `lytte bench` can measure produce-to-Redis latency."""
        if not buckets and not posts:
            return
        now_ms = int(time.time() * 1000)
        keep_posts = self._settings.redis_posts_kept
        pipe = self._redis.pipeline(transaction=False)
        for metrics in buckets:
            brand = metrics.brand
            await self._write_bucket(
                keys=[self.keys.buckets(brand), self.keys.bucket_index(brand)],
                args=[
                    int(metrics.bucket_start.timestamp()),
                    metrics.model_dump_json(),
                    self._settings.redis_buckets_kept,
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
        pipe.set(self.keys.updated, now_ms)
        for brand in sorted({m.brand for m in buckets} | set(by_brand)):
            notice = {
                "brand": brand,
                "buckets": sorted({int(m.bucket_start.timestamp()) for m in buckets if m.brand == brand}),
                "raw_timestamps_ms": [e.evidence.raw_timestamp_ms for e in by_brand.get(brand, [])],
                "written_ms": now_ms,
            }
            pipe.publish(self.keys.changes, orjson.dumps(notice))
        await pipe.execute()

    async def write_counters(self, counters: dict[int, PartitionCounters]) -> None:
        fields = {
            counter_field(name, partition): value
            for partition, c in counters.items()
            for name, value in c.as_fields().items()
        }
        if fields:
            await self._redis.hset(self.keys.counters, mapping=fields)

    async def write_watch(self, config: WatchConfig) -> None:
        await self._redis.set(self.keys.watch, config.model_dump_json())

    async def close(self) -> None:
        await self._redis.aclose()
