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

# One round trip per write: the bucket, its index (trimmed to the newest N buckets), the latest posts
# (trimmed to the newest M), the staleness stamp, and the change notification.
_WRITE_BUCKET = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #old, 2 do redis.call('HDEL', KEYS[1], old[i]) end
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[6]) + 1))
end
redis.call('SET', KEYS[4], ARGV[9])
redis.call('PUBLISH', ARGV[7], ARGV[8])
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

    async def write_bucket(self, metrics: BucketMetrics, event: ScoredPost) -> None:
        brand = metrics.brand
        epoch = int(metrics.bucket_start.timestamp())
        now_ms = int(time.time() * 1000)
        notice = orjson.dumps(
            {
                "brand": brand,
                "bucket": epoch,
                "raw_timestamp_ms": event.evidence.raw_timestamp_ms,
                "written_ms": now_ms,
            }
        )
        await self._write_bucket(
            keys=[self.keys.buckets(brand), self.keys.bucket_index(brand), self.keys.latest(brand), self.keys.updated],
            args=[
                epoch,
                metrics.model_dump_json(),
                self._settings.redis_buckets_kept,
                display_post(event),
                event.post.created_at.timestamp(),
                self._settings.redis_posts_kept,
                self.keys.changes,
                notice,
                now_ms,
            ],
        )

    async def write_counters(self, partition: int, counters: PartitionCounters) -> None:
        fields = {counter_field(name, partition): value for name, value in counters.as_fields().items()}
        await self._redis.hset(self.keys.counters, mapping=fields)

    async def write_watch(self, config: WatchConfig) -> None:
        await self._redis.set(self.keys.watch, config.model_dump_json())

    async def close(self) -> None:
        await self._redis.aclose()
