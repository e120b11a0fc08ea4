"""The worker's batch as a function: raw records and the state they read in, the writes they call for out.

For each record of `posts.raw`, in log order: parse and check it (intake), score and match it, drop it as a
repeat if the same post was already counted, count it, and fold each of its ScoredPosts into the partial
bucket of (brand, minute, this raw partition). A record that is an operator's sentiment correction rather than
a post moves one post of its partial bucket to the corrected label (`streams.core.correction`). Everything a
record touches belongs to its own raw partition, so any number of workers share the load for any mix of brands,
and a batch needs nothing from another partition.

Any exception while handling one record sends that record to the deadletter topic with the reason and the
exception's last line; the batch goes on. The agent performs the writes in one go (sends gathered and
checked) and only then lets faust acknowledge the batch, so a failed write is retried rather than committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas.pipeline import PartitionCounters
from schemas.records import BucketMetrics, Evidence, ScoredPost
from streams.core import correction
from streams.core.aggregate import BucketState, author_entry, author_key, bucket_key, bucket_start, step
from streams.core.counters import Outcome, Tally
from streams.core.dedup import Entry, introduced_here, seen_entry, seen_key
from streams.core.intake import Limits, Rejected, parse_post
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer


class StateReader(Protocol):
    """What a batch reads of the worker's tables (the agent's tables, or dicts in a test)."""

    def counters(self, partition: int) -> PartitionCounters: ...
    def seen(self, key: str) -> Entry | None: ...
    def bucket(self, key: str) -> BucketState | None: ...
    def author(self, key: str) -> Entry | None: ...


@dataclass(frozen=True)
class Deadletter:
    record: LogRecord
    reason: str


@dataclass
class BatchWrites:
    """What one batch of raw records calls for, in the order the agent performs it. Table writes carry the
    raw partition they belong to (their changelog partition)."""

    deadletters: list[Deadletter] = field(default_factory=list)
    #: (key, value) records for posts.scored: key = brand, value = ScoredPost JSON
    scored: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: new dedup entries: key -> (entry, raw partition)
    seen: dict[str, tuple[Entry, int]] = field(default_factory=dict)
    #: partial buckets that changed: key -> (state, raw partition)
    buckets: dict[str, tuple[BucketState, int]] = field(default_factory=dict)
    #: every partial bucket the batch touched, changed or not: a metrics record lost in a crash is sent again
    metrics: dict[str, BucketMetrics] = field(default_factory=dict)
    #: new unique-author entries: key -> (entry, raw partition)
    authors: dict[str, tuple[Entry, int]] = field(default_factory=dict)
    #: the posts, for the latest-posts lists of the live view
    posts: list[ScoredPost] = field(default_factory=list)
    #: the counters of every partition the batch touched
    counters: dict[int, PartitionCounters] = field(default_factory=dict)


def failure_reason(exc: BaseException) -> str:
    """KeyError('ingrid_newſ') -> "handling failed: KeyError: 'ingrid_newſ'" (the exception's last line)."""
    lines = str(exc).strip().splitlines()
    return f"handling failed: {type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def plan_batch(
    records: list[LogRecord], state: StateReader, scorer: Scorer, limits: Limits, now: datetime, top_posts: int = 3
) -> BatchWrites:
    """Plan one batch.

    Scenario: records at offsets 0..3 of raw partition 1: a post naming nordair, a post naming nothing
    watched, `b"\\xff"`, and the first post again (same source and source id) -> one ScoredPost for nordair;
    one deadletter ("invalid UTF-8 at byte 0"); one dedup entry; one partial bucket nordair|<minute>|1 with
    posts=1, unique_authors=1 and its author entry; counters posts_in=4, matched=2, unmatched=1,
    deadlettered=1, duplicates=1, scored_records=1. The same batch planned again on the state it wrote ->
    nothing new counted or folded (the scored record, the metrics and the deadletter are sent again; all
    are idempotent downstream).
    """
    writes = BatchWrites()
    tallies: dict[int, Tally] = {}
    now_ms = int(now.timestamp() * 1000)
    for record in records:
        p = record.partition
        if p not in tallies:
            tallies[p] = Tally(state.counters(p))
        outcome: Outcome
        duplicate, produced, event_time_s = False, 0, 0
        try:
            if correction.is_forwarded(record.headers):
                _correct(writes, state, record)
                tallies[p].add(record.offset, "correction", now_ms=now_ms)
                continue
            post = parse_post(record.value, now, limits, tallies[p].stream_time())
            if isinstance(post, Rejected):
                raise _Rejected(post.reason)
            event_time_s = int(post.created_at.timestamp())
            evidence = Evidence(raw_partition=p, raw_offset=record.offset, raw_timestamp_ms=max(0, record.timestamp_ms))
            scored = scorer.score(post, evidence)
            outcome = "matched" if scored else "unmatched"
            if scored:
                key = seen_key(post)
                pending = writes.seen.get(key)
                entry = pending[0] if pending else state.seen(key)
                if introduced_here(entry, p, record.offset):
                    if entry is None:
                        writes.seen[key] = (seen_entry(post, p, record.offset), p)
                    writes.scored.extend((s.brand.encode(), s.model_dump_json().encode()) for s in scored)
                    produced = len(scored)
                    for event in scored:
                        _fold(writes, state, event, top_posts)
                else:
                    duplicate = True
        except _Rejected as rejected:
            outcome = "deadlettered"
            writes.deadletters.append(Deadletter(record, rejected.reason))
        except Exception as exc:  # one record must never stop the partition
            outcome = "deadlettered"
            writes.deadletters.append(Deadletter(record, failure_reason(exc)))
        tallies[p].add(
            record.offset,
            outcome,
            scored_records=produced,
            duplicate=duplicate,
            event_time_s=event_time_s,
            now_ms=now_ms,
        )
    writes.counters = {p: tally.counters() for p, tally in tallies.items()}
    return writes


def _fold(writes: BatchWrites, state: StateReader, event: ScoredPost, top_posts: int) -> None:
    """One ScoredPost into its partial bucket, with its author counted once per bucket."""
    p = event.evidence.raw_partition
    key = bucket_key(event.brand, bucket_start(event.post.created_at), p)
    pending = writes.buckets.get(key)
    bucket = pending[0] if pending else state.bucket(key)
    new_author = False
    if bucket is None or not bucket.already_applied(event):
        akey = author_key(key, event)
        entry = writes.authors[akey][0] if akey in writes.authors else state.author(akey)
        new_author = introduced_here(entry, p, event.evidence.raw_offset)
        if new_author and entry is None:
            writes.authors[akey] = (author_entry(event), p)
    bucket, applied = step(bucket, event, new_author, top_posts)
    if applied:
        writes.buckets[key] = (bucket, p)
    writes.metrics[key] = bucket.metrics
    writes.posts.append(event)


def _correct(writes: BatchWrites, state: StateReader, record: LogRecord) -> None:
    """One forwarded correction into its partial bucket (`_Rejected` with the reason when it cannot be)."""
    action, c = correction.correction_of(record.value)
    key = correction.key_of(c, record.partition)
    pending = writes.buckets.get(key)
    before = pending[0] if pending else state.bucket(key)
    bucket, rejected = correction.apply(before, action, record.offset)
    if rejected is not None:
        raise _Rejected(rejected.reason)
    assert bucket is not None
    if bucket is not before:
        writes.buckets[key] = (bucket, record.partition)
    writes.metrics[key] = bucket.metrics


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
