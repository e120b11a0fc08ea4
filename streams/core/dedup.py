"""Counting a post once although sources deliver at least once, with memory that stays bounded.

The "seen" table holds one entry per matched post: key the post id (source and source id), value
`[raw partition, raw offset, minute]`: the record that introduced it and the epoch minute of its
`created_at`. A record is the post's first delivery when no entry exists or the entry names that very
record (a crash came between writing the entry and committing): the same rule the unique-author entries use.
A repeat counts as a repeat whatever else changed in it (engagement counts, even its timestamp).

Entries expire by event time: when a partition's watermark (newest post time seen) has passed the minute
of a post's first delivery by the horizon, its entry is removed with a tombstone. With the horizon at least the intake's
maximum post age plus its future skew, a repeat whose entry is gone is older than the maximum age and is
deadlettered by intake, so expiry never lets a post count twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.records import Post

Entry = list[int]  # [raw partition, raw offset, ...]


def introduced_here(entry: Entry | None, partition: int, offset: int) -> bool:
    """No entry -> True (first time). An entry naming this very record -> True (the same record read again
    after a crash). An entry naming another record -> False: a repeat."""
    return entry is None or (entry[0], entry[1]) == (partition, offset)


def seen_entry(post: Post, partition: int, offset: int) -> Entry:
    """A post created 2026-11-24T10:42:31Z, at raw partition 2, offset 17 -> [2, 17, 29602542]."""
    return [partition, offset, minute_of(post)]


def minute_of(post: Post) -> int:
    """The epoch minute of a post's time: 2026-11-24T10:42:31Z -> 29602542."""
    return int(post.created_at.timestamp()) // 60


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
