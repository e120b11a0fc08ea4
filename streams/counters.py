"""Pipeline counters per `posts.raw` partition, exact across crashes.

Like the buckets, the counters remember the last raw offset they counted, so a record read again after a
restart is not counted again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["scored", "unmatched", "deadlettered"]


class PartitionCounters(BaseModel):
    model_config = ConfigDict(frozen=True)

    last_offset: int = -1
    posts_in: int = 0
    scored: int = 0
    unmatched: int = 0
    deadlettered: int = 0

    def as_fields(self) -> dict[str, int]:
        return self.model_dump(exclude={"last_offset"})


def count(
    state: PartitionCounters, offset: int, outcome: Outcome, scored_records: int = 0
) -> tuple[PartitionCounters, bool]:
    """Count one raw record.

    Scenario: a fresh state, offset 0, outcome "scored" with 2 records (the post named two brands) ->
    posts_in=1, scored=2, last_offset=0, counted=True. Offset 0 again -> unchanged, counted=False.
    Offset 1, "unmatched" -> posts_in=2, unmatched=1.
    """
    if offset <= state.last_offset:
        return state, False
    update: dict[str, int] = {"last_offset": offset, "posts_in": state.posts_in + 1}
    if outcome == "scored":
        update["scored"] = state.scored + scored_records
    else:
        update[outcome] = getattr(state, outcome) + 1
    return state.model_copy(update=update), True
