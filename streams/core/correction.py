"""Operators' sentiment corrections in the counts: the view and the rules read the corrected label.

An operator's `correct_sentiment` action (`schemas.alerts.Action`, written by `lytte sentiment correct`) lands
on `lytte.actions`, the log of who corrected what and when. The alert agent, which reads that topic, forwards
it (`forward`) to the posts.raw partition that counted the post, marked by a header (`schemas.topics.
RECORD_KIND`). There it arrives in log order with the posts, and the batch applies it (`apply`) to the post's
partial bucket: one post moves from its current label to the new one. The changed partial goes out like any
other (metrics topic, Redis view, the alert engine's signal), so the tile's net sentiment and negative share
and the negative-surge rule all read the corrected counts, in whatever language the post was.

Exactly once:
- the bucket's `high_water` skips a forwarded record read again after a crash, as it skips posts;
- the bucket keeps each corrected post's current label and the time of the action that set it
  (`BucketState.corrected`): an action forwarded twice (the alert agent re-reads actions after a crash)
  changes nothing the second time, and an older action arriving after a newer one is ignored;
- the label moved from is the post's current label: the last correction's, or before any the model's
  (`old_label`, as the view showed it).

The compound stays the model's: an operator gives a label, not a score. A correction that cannot be applied
(its bucket has left the worker's state, the post was not counted there, no post has the label to move from)
is a `Rejected` reason: the batch deadletters the record with it, so the operator's correction that changed
nothing is visible on the health page.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alerts import Action, SentimentCorrection
from schemas.records import rank_top_posts
from schemas.topics import RECORD_KIND, RECORD_KIND_ACTION
from streams.core.aggregate import BucketState, bucket_key, bucket_start
from streams.core.intake import Rejected

#: corrected posts remembered per partial bucket (one minute of one partition); more are refused
CORRECTIONS_KEPT = 1_000


@dataclass(frozen=True)
class Forward:
    """A correction on its way to posts.raw: the partition, key (the post id), value (the action) and header."""

    partition: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ((RECORD_KIND, RECORD_KIND_ACTION),)


def forward(action: Action, partitions: int) -> Forward | Rejected | None:
    """Where an action goes on posts.raw. Scenario: a correct_sentiment action of post x:17 counted in raw
    partition 2 (of 4) -> Forward(partition=2, key=b"x:17", value=<the action's JSON>); raw partition 7 of 4 ->
    Rejected("... raw partition 7 does not exist (posts.raw has 4)"); a correction given by hand (no raw
    partition) or an action of another kind -> None (nothing to count: the correction stays in the log, where
    the adjustment learns from it)."""
    c = action.correction
    if action.kind != "correct_sentiment" or c is None or c.raw_partition is None:
        return None
    if c.raw_partition >= partitions:
        return Rejected(
            f"correction of {c.post_id}: raw partition {c.raw_partition} does not exist (posts.raw has {partitions})"
        )
    return Forward(c.raw_partition, c.post_id.encode(), action.model_dump_json().encode())


def is_forwarded(headers: tuple[tuple[str, bytes], ...]) -> bool:
    """Whether a posts.raw record is a forwarded correction rather than a post."""
    return (RECORD_KIND, RECORD_KIND_ACTION) in headers


def correction_of(value: bytes | None) -> tuple[Action, SentimentCorrection]:
    """A forwarded record's action and its correction; ValueError when it is not a correct_sentiment action."""
    action = Action.model_validate_json(value or b"")
    if action.kind != "correct_sentiment" or action.correction is None:
        raise ValueError(f"a {RECORD_KIND} record must be a correct_sentiment action, not {action.kind!r}")
    return action, action.correction


def key_of(correction: SentimentCorrection, partition: int) -> str:
    """The partial bucket a correction changes: its brand, the minute of the post's time, the raw partition."""
    return bucket_key(correction.brand, bucket_start(correction.created_at), partition)


def apply(state: BucketState | None, action: Action, offset: int) -> tuple[BucketState | None, Rejected | None]:
    """Apply one forwarded correction (at raw `offset`) to the post's partial bucket; return the new state (the
    same object when nothing changed) and why it could not be applied, if so.

    Scenario: a bucket with positive=3, negative=1 (high_water 40) and the post x:17 (offset 12, shown
    positive) corrected to negative at offset 41 -> positive=2, negative=2, corrected {x:17: negative},
    high_water 41. Then x:17 corrected to neutral by a later action (offset 42) -> positive=2, negative=1,
    neutral +1 (moved from the stored negative, whatever `old_label` says). The first action forwarded again
    (offset 43, older than the stored one) -> counts unchanged, high_water 43. Offset 41 read again after a
    crash -> the same state. No bucket -> Rejected("... has left the worker's state ..."); the post's offset
    after the bucket's high water -> Rejected("... not counted ..."); no positive post to move ->
    Rejected("... no positive post ...").
    """
    c = action.correction
    assert c is not None
    if state is None:
        return None, Rejected(
            f"correction of {c.post_id}: its bucket ({c.brand}, {bucket_start(c.created_at).isoformat()}) has left "
            "the worker's state or never held the post; the counts are unchanged"
        )
    if offset <= state.high_water:
        return state, None
    if c.raw_offset is not None and c.raw_offset > state.high_water:
        return None, Rejected(f"correction of {c.post_id}: the post (offset {c.raw_offset}) was not counted here")
    at_ms = int(action.at.timestamp() * 1000)
    stored = state.corrected.get(c.post_id)
    if stored is not None and stored[1] >= at_ms:  # a newer correction of this post is in effect
        return state.model_copy(update={"high_water": offset}), None
    current = stored[0] if stored is not None else c.old_label
    m = state.metrics
    if current != c.new_label and getattr(m, current) <= 0:
        return None, Rejected(f"correction of {c.post_id}: its bucket has no {current} post to move to {c.new_label}")
    if stored is None and len(state.corrected) >= CORRECTIONS_KEPT:
        return None, Rejected(f"correction of {c.post_id}: its bucket already holds {CORRECTIONS_KEPT} corrections")
    update: dict = {}
    if current != c.new_label:
        update = {current: getattr(m, current) - 1, c.new_label: getattr(m, c.new_label) + 1}
    if any(t.post_id == c.post_id for t in m.top_posts):
        top = (t.model_copy(update={"label": c.new_label}) if t.post_id == c.post_id else t for t in m.top_posts)
        update["top_posts"] = rank_top_posts(top, len(m.top_posts))
    corrected = {**state.corrected, c.post_id: (c.new_label, at_ms)}
    metrics = m.model_copy(update=update) if update else m
    return BucketState.model_construct(metrics=metrics, high_water=offset, corrected=corrected), None
