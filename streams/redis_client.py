"""A Redis client for a command that must answer within a bound: every connect and call limited to `timeout_s`,
and no retries (a Redis that is down is told at once, in one line, instead of after redis-py's retries)."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from schemas.settings import Settings


def bounded_redis(settings: Settings, timeout_s: float, url: str | None = None) -> redis.Redis:
    """The settings' Redis (or `url`, with the settings' password)."""
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return redis.Redis.from_url(
        url or settings.redis,
        password=password,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
