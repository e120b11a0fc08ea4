"""Pipeline counters per `posts.raw` partition, exact across crashes (the record: `schemas.pipeline`).

Like the buckets, the counters remember the last raw offset they counted, so a record read again after a
restart is not counted again.
"""

from __future__ import annotations

from typing import Literal

from schemas.pipeline import PartitionCounters

Outcome = Literal["matched", "unmatched", "deadlettered"]


def count(
    state: PartitionCounters,
    offset: int,
    outcome: Outcome,
    *,
    scored_records: int = 0,
    duplicate: bool = False,
    event_time_s: int = 0,
    now_ms: int = 0,
) -> tuple[PartitionCounters, bool]:
    """Count one raw record; return the new state and whether it counted.

    Scenario: a fresh state, offset 0, outcome "matched" with 2 scored records (the post named two brands)
    -> posts_in=1, matched=1, scored_records=2, last_offset=0, counted=True. Offset 0 again -> unchanged,
    counted=False. Offset 1, "matched", duplicate=True -> posts_in=2, matched=2, duplicates=1,
    scored_records still 2. Offset 2, "unmatched" -> unmatched=1. The watermark `event_time_s` only moves
    forward; `handled_ms` is the batch's wall-clock time.
    """
    if offset <= state.last_offset:
        return state, False
    update: dict[str, int] = {
        "last_offset": offset,
        "posts_in": state.posts_in + 1,
        outcome: getattr(state, outcome) + 1,
        "scored_records": state.scored_records + scored_records,
        "duplicates": state.duplicates + (1 if duplicate else 0),
        "event_time_s": max(state.event_time_s, event_time_s),
        "handled_ms": max(state.handled_ms, now_ms),
    }
    return state.model_copy(update=update), True
