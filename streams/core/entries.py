"""Dedup and unique-author entries, kept in memory and written to Kafka one delta per raw partition per batch.

An entry names the record that introduced it (`streams.core.dedup`): a seen entry `[raw partition, raw
offset, minute]` per counted post (key `seen_key`), an author entry `[raw partition, raw offset]` per author
of a partial bucket (key `author_key`, whose minute is the bucket's). There is one of each for nearly every
post, so writing each as a changelog record of its own made the worker send about two table records per
post. Instead, the new entries of one raw partition in one batch travel as one **delta**: a record of the
`entries` table whose key is `"<raw partition>|<offset of the first record that introduced one of them>"`
and whose value holds them all with their newest minute. No two deltas can share a key: the entries of a
delta that was written are known after any recovery, so its first record can never introduce a new entry
again.

Recovery reads the deltas and rebuilds the lookups (`EntryStore.rebuild`). Entries expire by minute with the
rest of the worker's state (`streams.core.expiry`); a delta is removed (tombstoned) once its newest minute
has expired, so every entry it holds is gone too and the compacted changelog forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.aggregate import key_minute
from streams.core.dedup import Entry
from streams.core.expiry import ExpiryIndex

#: What a delta's value holds: its newest minute, and its entries by kind, key -> entry.
Delta = dict


def delta_key(partition: int, offset: int) -> str:
    """(3, 1207) -> "3|1207"."""
    return f"{partition}|{offset}"


def delta_partition(key: str) -> int:
    """ "3|1207" -> 3."""
    return int(key.split("|", 1)[0])


def entry_deltas(
    seen: dict[str, tuple[Entry, int]], authors: dict[str, tuple[Entry, int]]
) -> dict[int, tuple[str, Delta]]:
    """A batch's new entries (as `streams.core.batch.BatchWrites` holds them: key -> (entry, raw partition)),
    one delta per raw partition.

    Scenario: seen {"x:1:a:7": ([2, 40, 29602542], 2)}, authors {"nordair|1776152520|2|a": ([2, 40], 2),
    "nordair|1776152580|2|b": ([2, 41], 2)} -> {2: ("2|40", {"minute": 29602543, "seen": {...},
    "authors": {...both...}})}; nothing new -> {}.
    """
    by_partition: dict[int, Delta] = {}
    first: dict[int, int] = {}
    for kind, writes in (("seen", seen), ("authors", authors)):
        for key, (entry, p) in writes.items():
            delta = by_partition.setdefault(p, {"minute": 0, "seen": {}, "authors": {}})
            delta[kind][key] = entry
            minute = entry[2] if kind == "seen" else key_minute(key)
            delta["minute"] = max(delta["minute"], minute)
            first[p] = min(first.get(p, entry[1]), entry[1])
    return {p: (delta_key(p, first[p]), delta) for p, delta in by_partition.items()}


@dataclass
class Expired:
    """What expiry takes from one raw partition: the deltas to tombstone and the entries to forget."""

    deltas: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)


class EntryStore:
    """The entries of the partitions a worker holds, as lookups, built from deltas.

    Scenario: apply("2|40", a delta with a seen entry "x:1:a:7" of minute 100 and an author entry of minute
    101) -> seen("x:1:a:7") == [2, 40, 100]; expire(2, before_minute=101) -> Expired(deltas=[], seen=
    ["x:1:a:7"], authors=[]) (the delta's newest minute, 101, is still held); forget() of that -> seen(...)
    is None; expire(2, 102) -> deltas ["2|40"] and the author entry.
    """

    def __init__(self) -> None:
        self._seen: dict[str, Entry] = {}
        self._authors: dict[str, Entry] = {}
        self._by_minute = {"seen": ExpiryIndex(), "authors": ExpiryIndex(), "deltas": ExpiryIndex()}

    def seen(self, key: str) -> Entry | None:
        return self._seen.get(key)

    def author(self, key: str) -> Entry | None:
        return self._authors.get(key)

    def apply(self, key: str, delta: Delta) -> None:
        p = delta_partition(key)
        for k, entry in delta["seen"].items():
            self._seen[k] = entry
            self._by_minute["seen"].add(p, k, entry[2])
        for k, entry in delta["authors"].items():
            self._authors[k] = entry
            self._by_minute["authors"].add(p, k, key_minute(k))
        self._by_minute["deltas"].add(p, key, delta["minute"])

    def rebuild(self, deltas: Iterable[tuple[str, Delta]]) -> None:
        """From a recovered table's items: what this store held before is dropped."""
        self.__init__()
        for key, delta in deltas:
            self.apply(key, delta)

    def expire(self, partition: int, before_minute: int) -> Expired:
        """The deltas whose newest minute, and the entries whose minute, is before `before_minute`."""
        index = self._by_minute
        return Expired(
            deltas=index["deltas"].expire(partition, before_minute),
            seen=index["seen"].expire(partition, before_minute),
            authors=index["authors"].expire(partition, before_minute),
        )

    def forget(self, expired: Expired) -> None:
        for key in expired.seen:
            self._seen.pop(key, None)
        for key in expired.authors:
            self._authors.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen) + len(self._authors)
