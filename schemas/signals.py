"""What the worker tells the alert engine: one `Signal` per raw partition per batch, on `lytte.signals`.

The alert engine is one consumer of one partition (a single place that sees every brand, its competitors
and every raw partition's event time), so its input is compact: the partial buckets a batch changed (states
that replace earlier ones, so a signal sent twice changes nothing), the few posts that per-post rules look at,
and the partition's event-time watermark. Per-post entries carry their raw offset, so that the engine applies
each once even when a batch is planned and sent again after a crash (`Signal.last_offset` and the engine's
high-water mark per raw partition).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt

from schemas.records import BucketMetrics, KeyPersonHit, PostKind, Record, UtcDatetime

SIGNAL_SCHEMA_VERSION = 1


class NotablePost(Record):
    """A post a per-post rule may care about: by or mentioning a key person, by a widely followed author, or
    matching the brand's keyword query."""

    brand: str
    post_id: str
    raw_offset: NonNegativeInt
    created_at: UtcDatetime
    author_handle: str
    followers: NonNegativeInt
    key_people: tuple[KeyPersonHit, ...] = ()
    keyword: bool = False
    compound: float
    label: Literal["positive", "neutral", "negative"]
    text: str
    url: str | None = None


class Share(Record):
    """A repost or quote of `referenced_id` about `brand`, for the viral rule."""

    brand: str
    referenced_id: str
    raw_offset: NonNegativeInt
    created_at: UtcDatetime
    kind: PostKind


class Signal(Record):
    """One batch of one raw partition, as the alert engine needs it. Key on `lytte.signals`: none (one
    partition). `idle`: the partition has nothing waiting (sent by the worker when it is caught up), so its
    watermark need not hold back the engine's event time."""

    schema_version: Literal[1] = SIGNAL_SCHEMA_VERSION
    raw_partition: NonNegativeInt
    #: the highest raw offset the batch counted (-1: none yet)
    last_offset: int = Field(ge=-1)
    #: the partition's event-time watermark after the batch (epoch seconds; 0: no post yet)
    watermark_s: NonNegativeInt
    idle: bool = False
    partials: tuple[BucketMetrics, ...] = ()
    posts: tuple[NotablePost, ...] = ()
    shares: tuple[Share, ...] = ()
