"""The score agent's batch as a function: raw records and the state they read in, the writes they call for out.

For each record of `posts.raw`, in log order: parse and check it (intake), score and match it, drop it as a
repeat if the same post was already counted, and count it. Any exception while handling one record sends
that record to the deadletter topic with the reason and the exception's last line; the batch goes on.

The agent performs the writes in one go (sends gathered and checked) and only then lets faust acknowledge
the batch, so a failed write is retried rather than committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from schemas.pipeline import PartitionCounters
from schemas.records import Evidence
from streams.core.counters import Outcome, count
from streams.core.dedup import Entry, introduced_here, seen_entry
from streams.core.intake import Limits, Rejected, parse_post
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer


@dataclass(frozen=True)
class Deadletter:
    record: LogRecord
    reason: str


@dataclass
class ScoreWrites:
    """What one batch of raw records calls for, in the order the agent performs it."""

    deadletters: list[Deadletter] = field(default_factory=list)
    #: (key, value) records for posts.scored: key = brand, value = ScoredPost JSON
    scored: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: new dedup entries: key -> (entry, raw partition)
    seen: dict[str, tuple[Entry, int]] = field(default_factory=dict)
    #: the counters of every partition the batch touched
    counters: dict[int, PartitionCounters] = field(default_factory=dict)


def failure_reason(exc: BaseException) -> str:
    """KeyError('ingrid_newſ') -> "handling failed: KeyError: 'ingrid_newſ'" (the exception's last line)."""
    lines = str(exc).strip().splitlines()
    return f"handling failed: {type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def plan_score_batch(
    records: list[LogRecord],
    counters: Callable[[int], PartitionCounters],
    seen: Callable[[str], Entry | None],
    scorer: Scorer,
    limits: Limits,
    now: datetime,
) -> ScoreWrites:
    """Plan one batch.

    Scenario: records at offsets 0..3 of partition 1: a post naming nordair, a post naming nothing watched,
    `b"\\xff"`, and the first post again (same source and source id) -> one ScoredPost for nordair, one
    deadletter ("invalid UTF-8 at byte 0"), one dedup entry, and counters posts_in=4, matched=2,
    unmatched=1, deadlettered=1, duplicates=1, scored_records=1. The same batch planned again on the state
    it wrote -> nothing new counted (the scored record and the deadletter are sent again; both are
    idempotent downstream).
    """
    writes = ScoreWrites()
    now_ms = int(now.timestamp() * 1000)
    for record in records:
        p = record.partition
        state = writes.counters.get(p) or counters(p)
        outcome: Outcome
        duplicate, produced, event_time_s = False, 0, 0
        try:
            post = parse_post(record.value, now, limits)
            if isinstance(post, Rejected):
                raise _Rejected(post.reason)
            event_time_s = int(post.created_at.timestamp())
            evidence = Evidence(raw_partition=p, raw_offset=record.offset, raw_timestamp_ms=max(0, record.timestamp_ms))
            scored = scorer.score(post, evidence)
            outcome = "matched" if scored else "unmatched"
            if scored:
                key = post.id
                pending = writes.seen.get(key)
                entry = pending[0] if pending else seen(key)
                if introduced_here(entry, p, record.offset):
                    encoded = [(s.brand.encode(), s.model_dump_json().encode()) for s in scored]
                    if entry is None:
                        writes.seen[key] = (seen_entry(post, p, record.offset), p)
                    writes.scored.extend(encoded)
                    produced = len(encoded)
                else:
                    duplicate = True
        except _Rejected as rejected:
            outcome = "deadlettered"
            writes.deadletters.append(Deadletter(record, rejected.reason))
        except Exception as exc:  # one record must never stop the partition
            outcome = "deadlettered"
            writes.deadletters.append(Deadletter(record, failure_reason(exc)))
        writes.counters[p], _ = count(
            state,
            record.offset,
            outcome,
            scored_records=produced,
            duplicate=duplicate,
            event_time_s=event_time_s,
            now_ms=now_ms,
        )
    return writes


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
