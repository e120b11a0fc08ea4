"""Produce-to-Redis latency from the worker's change notices (`{prefix}:changes`): each notice carries the
Kafka timestamps of the raw posts it wrote (set by the producer at send) and the time of the Redis write."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import orjson
import redis


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least q % of all samples at or below it; nan without samples.

    >>> percentile([5, 1, 4, 2, 3], 50), percentile(range(1, 101), 99), percentile([7], 99)
    (3, 99, 7)
    """
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class LatencyListener(threading.Thread):
    """Collects (raw timestamp, latency) pairs from the change notices until `close`."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        super().__init__(daemon=True)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        self._pairs: list[tuple[int, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message is not None:
                notice = orjson.loads(message["data"])
                written = notice["written_ms"]
                # an alert view notice has no raw timestamps
                self._pairs.extend((ts, written - ts) for ts in notice.get("raw_timestamps_ms", ()))

    def since(self, start_ms: int) -> list[int]:
        """Latencies (ms) of the posts produced at or after `start_ms` (epoch ms)."""
        return [latency for ts, latency in list(self._pairs) if ts >= start_ms]

    def close(self) -> None:
        self._done.set()
        self.join(timeout=2)
        self._pubsub.close()
