"""What the pipeline has done with every record of `posts.raw`, and whether it is keeping up.

The score agent keeps one `PartitionCounters` per raw partition (in its table, in the Redis view as
`<counter>:<partition>` fields). `lytte status`, the wall and the fault suite read them and compare them
with the end offsets of `posts.raw` through `pipeline_status`, so that all three judge "stalled" the same
way. Every handled post is exactly one of matched, unmatched or deadlettered:
`posts_in = matched + unmatched + deadlettered` always holds. The other records of posts.raw, operators'
sentiment corrections forwarded to the partition that counted the post (`streams.core.correction`), are
counted as `corrections` and are not posts in (one that cannot be applied is deadlettered, as a post in).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeInt

#: Counted per raw partition; the totals are sums over partitions.
COUNTERS = ("posts_in", "matched", "unmatched", "deadlettered", "duplicates", "scored_records", "corrections")
#: Per-partition fields that are positions and times, not counts: never summed.
MARKS = ("last_offset", "handled_ms", "event_time_s")

#: A partition with records waiting and nothing handled for this long is stalled.
STALL_AFTER_MS = 30_000


class PartitionCounters(BaseModel):
    """One raw partition's counters.

    - `last_offset`: the highest raw offset counted (-1: none); a record at or below it is not counted again;
    - `posts_in`: records handled; `matched` (named at least one watched brand or competitor), `unmatched`,
      `deadlettered` (bad input, or handling failed: the record is in the deadletter topic with the reason);
    - `duplicates`: of the matched, how many repeated a post already counted (same source and source id):
      they are not counted again in the buckets;
    - `scored_records`: ScoredPosts produced (one per matched brand of each new post);
    - `corrections`: operators' sentiment corrections read (applied to a bucket, or already in effect there);
    - `handled_ms`: wall-clock time of the last batch that advanced this partition;
    - `event_time_s`: the newest post time seen (epoch seconds), the partition's event-time watermark.
    """

    model_config = ConfigDict(frozen=True)

    last_offset: int = -1
    posts_in: NonNegativeInt = 0
    matched: NonNegativeInt = 0
    unmatched: NonNegativeInt = 0
    deadlettered: NonNegativeInt = 0
    duplicates: NonNegativeInt = 0
    scored_records: NonNegativeInt = 0
    corrections: NonNegativeInt = 0
    handled_ms: NonNegativeInt = 0
    event_time_s: NonNegativeInt = 0

    def as_fields(self, partition: int) -> dict[str, int]:
        """As Redis hash fields: {"posts_in:3": 120, ..., "last_offset:3": 119, ...}."""
        return {f"{name}:{partition}": value for name, value in self.model_dump().items()}


def partition_counters(fields: dict[str | bytes, str | bytes | int]) -> dict[int, PartitionCounters]:
    """Redis hash fields back into counters per partition; unknown fields are ignored.

    >>> partition_counters({"posts_in:0": "3", "last_offset:0": "2", "bogus": "1"})[0].posts_in
    3
    """
    by_partition: dict[int, dict[str, int]] = {}
    known = set(COUNTERS) | set(MARKS)
    for field, value in fields.items():
        name, _, partition = (field.decode() if isinstance(field, bytes) else field).rpartition(":")
        if name in known and partition.isdigit():
            by_partition.setdefault(int(partition), {})[name] = int(value)
    return {p: PartitionCounters.model_validate(v) for p, v in by_partition.items()}


def counter_totals(counters: dict[int, PartitionCounters]) -> dict[str, int]:
    """Sums over partitions of every counter (not of the marks).

    >>> counter_totals({0: PartitionCounters(posts_in=3), 1: PartitionCounters(posts_in=4)})["posts_in"]
    7
    """
    return {name: sum(getattr(c, name) for c in counters.values()) for name in COUNTERS}


class PartitionStatus(BaseModel):
    partition: int
    raw_end: int
    handled: PartitionCounters
    lag: int
    stalled: bool


class PipelineStatus(BaseModel):
    """Totals over partitions (`raw_end`, every counter, `lag`) plus `stalled`, and the partitions."""

    raw_end: int
    posts_in: int
    matched: int
    unmatched: int
    deadlettered: int
    duplicates: int
    scored_records: int
    lag: int
    stalled: bool
    stalled_partitions: list[int]
    last_handled_ms: int
    partitions: list[PartitionStatus]


def pipeline_status(
    raw_ends: dict[int, int],
    counters: dict[int, PartitionCounters],
    now_ms: int,
    first_waiting_ms: dict[int, int] | None = None,
    stall_after_ms: int = STALL_AFTER_MS,
) -> PipelineStatus:
    """Compare what posts.raw holds with what was handled.

    A partition's lag is its end offset less the records handled through `last_offset`. It is stalled when
    records are waiting, the oldest waiting record (`first_waiting_ms`, its Kafka timestamp, when known)
    has waited longer than `stall_after_ms`, and nothing was handled in that time either.

    Scenario: partition 0 ends at 10 and has handled through offset 9 -> lag 0, not stalled. Partition 1
    ends at 50, handled through 19 at t=0, now t=31 s, the first waiting record written at t=0.5 s -> lag
    30, stalled (it has waited 30.5 s). The same at now t=20 s -> lag 30, not stalled (within 30 s).
    """
    first_waiting_ms = first_waiting_ms or {}
    partitions = []
    for p in sorted(set(raw_ends) | set(counters)):
        handled = counters.get(p, PartitionCounters())
        end = raw_ends.get(p, 0)
        lag = max(0, end - (handled.last_offset + 1))
        since = max(handled.handled_ms, first_waiting_ms.get(p, 0))
        stalled = lag > 0 and now_ms - since > stall_after_ms
        partitions.append(PartitionStatus(partition=p, raw_end=end, handled=handled, lag=lag, stalled=stalled))
    totals = counter_totals({s.partition: s.handled for s in partitions})
    return PipelineStatus(
        raw_end=sum(s.raw_end for s in partitions),
        lag=sum(s.lag for s in partitions),
        stalled=any(s.stalled for s in partitions),
        stalled_partitions=[s.partition for s in partitions if s.stalled],
        last_handled_ms=max((s.handled.handled_ms for s in partitions), default=0),
        partitions=partitions,
        **totals,
    )


def stalled_for_s(status: PipelineStatus, first_waiting_ms: dict[int, int], now_ms: int) -> int | None:
    """For how long nothing was handled while records waited on the stalled partitions (the shortest of
    them); None when not stalled or when no stalled partition has a known start.

    Scenario: partition 1 stalled, last handled at t=10 s, first waiting record at t=12 s, now t=50 s -> 38.
    """
    starts = [
        since
        for s in status.partitions
        if s.stalled and (since := max(s.handled.handled_ms, first_waiting_ms.get(s.partition, 0))) > 0
    ]
    return max(0, (now_ms - max(starts)) // 1000) if starts else None


# -- for people: `lytte status` and the health page say it the same way


def ago(ms: int, now_ms: int) -> str:
    """How long ago an epoch-ms time was, for people: "12 s ago", "5 min ago", "3 h ago"; 0 is "never".

    >>> ago(0, 10_000), ago(8_000, 20_000), ago(0 + 1, 600_001), ago(1, 3 * 3600_000 + 1)
    ('never', '12 s ago', '10 min ago', '3 h ago')
    """
    if ms <= 0:
        return "never"
    s = max(0, (now_ms - ms) // 1000)
    if s < 120:
        return f"{s} s ago"
    if s < 2 * 3600:
        return f"{s // 60} min ago"
    if s < 2 * 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def pipeline_line(status: PipelineStatus, now_ms: int, first_waiting_ms: dict[int, int] | None = None) -> str:
    """The verdict: ok, STALLED (which partitions, for how long) or nothing handled yet.

    >>> C = PartitionCounters
    >>> pipeline_line(pipeline_status({0: 10}, {0: C(last_offset=9, posts_in=10, handled_ms=1)}, 5_000), 5_000)
    'pipeline: ok'
    """
    if status.stalled:
        parts = status.stalled_partitions
        which = f"partition{'s' if len(parts) > 1 else ''} {', '.join(str(p) for p in parts)}"
        waited = stalled_for_s(status, first_waiting_ms or {}, now_ms)
        how_long = f"nothing handled for {waited} s" if waited is not None else "nothing handled yet"
        return f"pipeline: STALLED ({which}: records waiting, {how_long})"
    if status.last_handled_ms == 0:
        return "pipeline: no worker has handled anything yet"
    return "pipeline: ok"
