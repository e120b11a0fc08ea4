"""Pipeline counters per `posts.raw` partition, exact across crashes (the record: `schemas.pipeline`).

Like the buckets, the counters remember the last raw offset they counted, so a record read again after a
restart is not counted again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from schemas.pipeline import PartitionCounters

#: what became of a raw record: a post matched, unmatched or deadlettered, or an operator's correction applied
Outcome = Literal["matched", "unmatched", "deadlettered", "correction"]


def count(state: PartitionCounters, offset: int, outcome: Outcome, **details: int) -> tuple[PartitionCounters, bool]:
    """Count one raw record (`details`: `Tally.add`'s scored_records, duplicate, event_time_s, now_ms); return
    the new state and whether it counted.

    Scenario: a fresh state, offset 0, outcome "matched" with 2 scored records (the post named two brands)
    -> posts_in=1, matched=1, scored_records=2, last_offset=0, counted=True. Offset 0 again -> unchanged,
    counted=False. Offset 1, "matched", duplicate=True -> posts_in=2, matched=2, duplicates=1,
    scored_records still 2. Offset 2, "unmatched" -> unmatched=1. Offset 3, "correction" -> corrections=1,
    posts_in still 3. The watermark `event_time_s` only moves
    forward; `handled_ms` is the batch's wall-clock time.
    """
    tally = Tally(state)
    counted = tally.add(offset, outcome, **details)
    return tally.counters(), counted


class Tally:
    """`count` over many records without a new model per record (a batch counts hundreds): `add` each
    record in turn, then `counters()` is what `count` applied in turn would give."""

    def __init__(self, state: PartitionCounters) -> None:
        self._fields = state.model_dump()

    def add(
        self,
        offset: int,
        outcome: Outcome,
        *,
        scored_records: int = 0,
        duplicate: bool = False,
        event_time_s: int = 0,
        now_ms: int = 0,
    ) -> bool:
        f = self._fields
        if offset <= f["last_offset"]:
            return False
        f["last_offset"] = offset
        if outcome == "correction":  # not a post: posts_in = matched + unmatched + deadlettered
            f["corrections"] += 1
        else:
            f["posts_in"] += 1
            f[outcome] += 1
        f["scored_records"] += scored_records
        f["duplicates"] += duplicate
        f["event_time_s"] = max(f["event_time_s"], event_time_s)
        f["handled_ms"] = max(f["handled_ms"], now_ms)
        return True

    def counters(self) -> PartitionCounters:
        return PartitionCounters(**self._fields)

    def stream_time(self) -> datetime:
        """The partition's event-time watermark so far (the newest post time counted; the epoch before any),
        which intake's age check counts from: 10:42:31Z after a post of that time, whatever the wall clock."""
        return datetime.fromtimestamp(self._fields["event_time_s"], UTC)
