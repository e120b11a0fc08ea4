"""The aggregate agent's batch as a function: scored records and the state they read in, the writes out.

Each ScoredPost is folded into its brand's one-minute bucket with `step`, which skips what the bucket has
already applied (per raw partition high-water offsets), so records read again after a crash count once.
A record that cannot be read or folded goes to the deadletter topic with the reason; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.records import BucketMetrics, ScoredPost
from streams.core.aggregate import BucketState, author_entry, author_key, bucket_key, bucket_start, step
from streams.core.dedup import Entry, introduced_here
from streams.core.log_record import LogRecord
from streams.core.score_batch import Deadletter, failure_reason


@dataclass
class AggregateWrites:
    deadletters: list[Deadletter] = field(default_factory=list)
    #: buckets that changed: key -> (state, posts.scored partition)
    buckets: dict[str, tuple[BucketState, int]] = field(default_factory=dict)
    #: every bucket the batch touched, changed or not: a metrics record lost in a crash is sent again
    metrics: dict[str, BucketMetrics] = field(default_factory=dict)
    #: new unique-author entries: key -> (entry, posts.scored partition)
    authors: dict[str, tuple[Entry, int]] = field(default_factory=dict)
    #: the last posts.scored offset handled per partition, written after everything else
    progress: dict[int, int] = field(default_factory=dict)
    #: the posts, for the latest-posts lists of the live view
    posts: list[ScoredPost] = field(default_factory=list)


def plan_aggregate_batch(
    records: list[LogRecord],
    bucket: Callable[[str], BucketState | None],
    author: Callable[[str], Entry | None],
    top_posts: int,
) -> AggregateWrites:
    """Plan one batch.

    Scenario: three scored records for nordair in minute 10:42 (raw offsets 5, 6, 7 of raw partition 0, the
    first two by the same author) and one record of bytes `b"{"` -> one bucket with posts=3 and
    unique_authors=2, two author entries, one deadletter ("malformed scored post: ..."), progress = the
    highest posts.scored offset of the batch. The same records again on that state -> no bucket changes,
    the metrics record sent again.
    """
    writes = AggregateWrites()
    for record in records:
        writes.progress[record.partition] = max(record.offset, writes.progress.get(record.partition, -1))
        try:
            if record.value is None:
                raise ValueError("malformed scored post: empty record")
            try:
                scored = ScoredPost.model_validate_json(record.value)
            except ValueError as exc:
                raise ValueError(f"malformed scored post: {_first_error(exc)}") from None
            key = bucket_key(scored.brand, bucket_start(scored.post.created_at))
            pending = writes.buckets.get(key)
            state = pending[0] if pending else bucket(key)
            new_author = False
            if state is None or not state.already_applied(scored):
                akey = author_key(key, scored)
                entry = writes.authors[akey][0] if akey in writes.authors else author(akey)
                ev = scored.evidence
                new_author = introduced_here(entry, ev.raw_partition, ev.raw_offset)
                if new_author and entry is None:
                    writes.authors[akey] = (author_entry(scored), record.partition)
            state, applied = step(state, scored, new_author, top_posts)
            if applied:
                writes.buckets[key] = (state, record.partition)
            writes.metrics[key] = state.metrics
            writes.posts.append(scored)
        except Exception as exc:  # one record must never stop the partition
            reason = str(exc) if str(exc).startswith("malformed") else failure_reason(exc)
            writes.deadletters.append(Deadletter(record, reason))
    return writes


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    return errors()[0]["msg"] if callable(errors) else str(exc)
