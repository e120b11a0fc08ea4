"""Counting a post once although sources deliver at least once, with memory that stays bounded.

There is one "seen" entry per matched post: key `seen_key` (source, author and source id), value
`[raw partition, raw offset, minute]`: the record that introduced it and the epoch minute of its
`created_at` (kept and written with the batch's other entries: `streams.core.entries`). A record is the
post's first delivery when no entry exists or the entry names that very record (a crash came between
writing the entry and committing): the same rule the unique-author entries use.
A repeat counts as a repeat whatever else changed in it (engagement counts, even its timestamp).

The key names the author because a post's author never changes, and every repeat of a post therefore lands
in its author's raw partition, where its worker can see it. Two records that share a source id under two
authors are two posts (no source sends them; a hostile or broken one might): keyed by the post id alone,
they would count once when the authors hash to one partition and twice when they do not, so the count
would depend on the partition count.

Entries expire by event time with the rest of the worker's state (`streams.core.expiry`): a repeat whose
entry is gone is older than intake accepts and is deadlettered, so expiry never lets a post count twice.
"""

from __future__ import annotations

from schemas.records import Post

Entry = list[int]  # [raw partition, raw offset, ...]


def introduced_here(entry: Entry | None, partition: int, offset: int) -> bool:
    """No entry -> True (first time). An entry naming this very record -> True (the same record read again
    after a crash). An entry naming another record -> False: a repeat."""
    return entry is None or (entry[0], entry[1]) == (partition, offset)


def seen_key(post: Post) -> str:
    """A post "fz-7" from synth by author "a42" -> "synth:3:a42:fz-7" (the author id's length first, so that
    no pair of author id and source id can spell another pair's key)."""
    return f"{post.source.value}:{len(post.author.id)}:{post.author.id}:{post.source_id}"


def seen_entry(post: Post, partition: int, offset: int) -> Entry:
    """A post created 2026-11-24T10:42:31Z, at raw partition 2, offset 17 -> [2, 17, 29602542]."""
    return [partition, offset, minute_of(post)]


def minute_of(post: Post) -> int:
    """The epoch minute of a post's time: 2026-11-24T10:42:31Z -> 29602542."""
    return int(post.created_at.timestamp()) // 60
