"""Bounded state: every table entry expires by event time once it can no longer change.

Each raw partition has an event-time watermark: the newest post time it has seen (`PartitionCounters.
event_time_s`). An entry whose minute is older than the watermark by more than the horizon is removed, with
a tombstone so that the compacted changelog shrinks too. The horizon is the oldest post intake accepts
(`max_post_age_s`) plus the future skew it allows, plus a minute: any post still accepted falls in a bucket
that is still held, and a repeat of a post whose dedup entry is gone is older than intake accepts. So
expiry never changes a count: a partial bucket is final before it is dropped, and what it said lives on
in the metrics topic and the Redis view.

Expiry follows event time, not the wall clock: a partition that receives nothing keeps its state, and a
replay of the log expires exactly what live processing expired.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.settings import Settings


def horizon_s(settings: Settings) -> int:
    """How far behind its partition's watermark an entry is kept: max_post_age_s 2 days, skew 300 s ->
    172,800 + 300 + 60 = 173,160 s."""
    return settings.max_post_age_s + settings.max_future_skew_s + 60


def expiry_minute(watermark_s: int, horizon: int) -> int:
    """Entries of minutes before this one expire: watermark 10:42:31Z, horizon 3,600 s -> 09:42 (as epoch
    minute); nothing seen yet (watermark 0) -> a minute before any post."""
    return (watermark_s - horizon) // 60


class ExpiryIndex:
    """Which keys of a table each partition holds, by minute, so that expiry needs no scan of the table.

    Derived state: rebuilt from the table after recovery with `rebuild`, extended with `add` as keys are
    written, drained by `expire`.

    Scenario: add(0, "a", 5), add(0, "b", 9), add(1, "c", 5); expire(0, before_minute=6) -> ["a"];
    expire(0, 6) again -> []; partition 1 keeps "c".
    """

    def __init__(self) -> None:
        self._by_partition: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, partition: int, key: str, minute: int) -> None:
        self._by_partition[partition][minute].add(key)

    def rebuild(self, entries: Iterable[tuple[str, int, int]]) -> None:
        """From (key, partition, minute) triples, e.g. a recovered table's items."""
        self._by_partition.clear()
        for key, partition, minute in entries:
            self.add(partition, key, minute)

    def expire(self, partition: int, before_minute: int) -> list[str]:
        minutes = self._by_partition.get(partition)
        if not minutes:
            return []
        old = sorted(m for m in minutes if m < before_minute)
        return [key for m in old for key in sorted(minutes.pop(m))]

    def __len__(self) -> int:
        return sum(len(keys) for minutes in self._by_partition.values() for keys in minutes.values())
