"""Reads of the Redis live view for the dashboard (key layout: `schemas.redis_keys`)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis

from schemas.records import BucketMetrics
from schemas.redis_keys import RedisKeys, counter_totals
from schemas.settings import Settings
from schemas.watch import WatchConfig


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


class LiveView:
    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        self.redis = client or redis.Redis.from_url(settings.redis, password=password)
        self.keys = RedisKeys(settings.redis_prefix)

    def watch(self) -> WatchConfig | None:
        raw = self.redis.get(self.keys.watch)
        return WatchConfig.model_validate_json(raw) if raw else None

    def wall(self, latest_posts: int = 3) -> WallView:
        watch = self.watch()
        if watch is None:
            return WallView([], counter_totals({}), None, configured=False)
        pipe = self.redis.pipeline(transaction=False)
        watched = watch.watched()
        for w, _ in watched:
            pipe.hgetall(self.keys.buckets(w.id))
            pipe.zrevrange(self.keys.latest(w.id), 0, latest_posts - 1)
        pipe.hgetall(self.keys.counters)
        pipe.get(self.keys.updated)
        results = pipe.execute()
        brands = []
        for i, (w, role) in enumerate(watched):
            buckets = sorted(
                (BucketMetrics.model_validate_json(v) for v in results[2 * i].values()),
                key=lambda b: b.bucket_start,
            )
            latest = [orjson.loads(p) for p in results[2 * i + 1]]
            brands.append(BrandView(w.id, w.name, role, buckets, latest))
        counters = counter_totals(results[-2])
        updated = int(results[-1]) if results[-1] else None
        return WallView(brands, counters, updated, configured=True)

    def changes(self):
        """A pub/sub subscription to the change channel (caller closes it)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.keys.changes)
        return pubsub
