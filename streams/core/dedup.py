"""Counting a post once although sources deliver at least once, with memory that stays bounded.

The "seen" table holds one entry per matched post: key `<minute>|<post id>` (the minute of its
`created_at`, which a repeat of the same post shares), value `[raw partition, raw offset]` of the record that
introduced it. A record is the post's first delivery when no entry exists or the entry names that very
record (a crash came between writing the entry and committing): the same rule the unique-author entries use.

Entries expire by event time: when a partition's watermark (newest post time seen) has passed a post's
minute by the horizon, its entry is removed with a tombstone. With the horizon at least the intake's
maximum post age plus its future skew, a repeat whose entry is gone is older than the maximum age and is
deadlettered by intake, so expiry never lets a post count twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.records import Post

Entry = list[int]  # [raw partition, raw offset]


def introduced_here(entry: Entry | None, partition: int, offset: int) -> bool:
    """No entry -> True (first time). An entry naming this very record -> True (the same record read again
    after a crash). An entry naming another record -> False: a repeat."""
    return entry is None or (entry[0], entry[1]) == (partition, offset)


def seen_key(post: Post) -> str:
    """A post created 2026-11-24T10:42:31Z with id "x:123" -> "29602544|x:123" (epoch minute first)."""
    return f"{int(post.created_at.timestamp()) // 60}|{post.id}"


def key_minute(key: str) -> int:
    """The epoch minute a dedup or author key starts with: "29602544|x:123" -> 29602544."""
    return int(key.split("|", 1)[0])


class ExpiryIndex:
    """Which keys of a table each partition holds, by minute, so that expiry needs no scan of the table.

    Derived state: rebuilt from the table after recovery with `rebuild`, extended with `add` as keys are
    written, drained by `expire`.

    Scenario: add(0, "5|a"), add(0, "9|b"), add(1, "5|c"); expire(0, before_minute=6) -> ["5|a"];
    expire(0, 6) again -> []; partition 1 keeps "5|c".
    """

    def __init__(self) -> None:
        self._by_partition: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, partition: int, key: str) -> None:
        self._by_partition[partition][key_minute(key)].add(key)

    def rebuild(self, entries: Iterable[tuple[str, int]]) -> None:
        """From (key, partition) pairs, e.g. a recovered table's items."""
        self._by_partition.clear()
        for key, partition in entries:
            self.add(partition, key)

    def expire(self, partition: int, before_minute: int) -> list[str]:
        minutes = self._by_partition.get(partition)
        if not minutes:
            return []
        old = sorted(m for m in minutes if m < before_minute)
        return [key for m in old for key in sorted(minutes.pop(m))]

    def __len__(self) -> int:
        return sum(len(keys) for minutes in self._by_partition.values() for keys in minutes.values())
