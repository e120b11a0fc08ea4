"""Per-brand, per-minute buckets of event time, changed only by `step`.

The state remembers, per `posts.raw` partition, the highest raw offset it has applied. After a crash the
score agent re-sends what it had not committed and the aggregate agent re-reads what it had not committed;
both arrive with raw offsets at or below that mark and are skipped, so nothing is counted twice. Posts of
one raw partition reach one bucket in offset order (one producer, one partition), which is what makes a
high-water mark enough.

Unique authors are not a set inside the bucket (that would make every changelog write as large as the
bucket's audience): a separate table holds one small entry per (bucket, author), naming the post that
introduced the author (`streams.core.dedup.introduced_here` reads it), so that a crash between the two
writes still counts the author exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from schemas.records import BucketMetrics, PostKind, ScoredPost, TopPost

BUCKET_SECONDS = 60
_KIND_FIELD = {
    PostKind.ORIGINAL: "originals",
    PostKind.REPOST: "reposts",
    PostKind.REPLY: "replies",
    PostKind.QUOTE: "quotes",
}
_TOP_POST_TEXT_CHARS = 280


def bucket_start(created_at: datetime) -> datetime:
    """2026-11-24T10:42:59.9Z -> 2026-11-24T10:42:00Z."""
    epoch = int(created_at.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return datetime.fromtimestamp(epoch, UTC)


def bucket_key(brand: str, start: datetime) -> str:
    """("nordair", 10:42Z) -> "nordair|1795516920": the table key, one per brand and minute."""
    return f"{brand}|{int(start.timestamp())}"


class BucketState(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics: BucketMetrics
    high_water: dict[int, int] = {}

    @classmethod
    def empty(cls, brand: str, start: datetime) -> BucketState:
        return cls(metrics=BucketMetrics(brand=brand, bucket_start=start))

    def already_applied(self, event: ScoredPost) -> bool:
        ev = event.evidence
        return ev.raw_offset <= self.high_water.get(ev.raw_partition, -1)


def _top_posts(current: tuple[TopPost, ...], event: ScoredPost, keep: int) -> tuple[TopPost, ...]:
    if keep <= 0:
        return ()
    post = event.post
    candidate = TopPost(
        post_id=post.id,
        author_handle=post.author.handle,
        reach=post.author.followers,
        compound=event.sentiment.compound,
        text=post.text[:_TOP_POST_TEXT_CHARS],
        url=post.url,
    )
    ranked = sorted((*current, candidate), key=lambda t: (-t.reach, t.post_id))
    return tuple(ranked[:keep])


def author_key(bucket: str, event: ScoredPost) -> str:
    """("nordair|1795516920", post by author "42") -> "nordair|1795516920|42"."""
    return f"{bucket}|{event.post.author.id}"


def author_entry(event: ScoredPost) -> list[int]:
    """What the authors table stores: the raw partition and offset of the post that introduced the author."""
    return [event.evidence.raw_partition, event.evidence.raw_offset]


def step(
    state: BucketState | None, event: ScoredPost, new_author: bool, top_posts: int = 3
) -> tuple[BucketState, bool]:
    """Apply one scored post to its bucket; return the new state and whether it counted.

    Scenario: an empty state and a negative original post by a new author with 1,200 followers ->
    posts=1, originals=1, negative=1, reach=1200, unique_authors=1, applied=True. The same event again
    (same raw partition and offset, as after a crash) -> the state unchanged, applied=False.
    """
    start = bucket_start(event.post.created_at)
    if state is None:
        state = BucketState.empty(event.brand, start)
    if state.already_applied(event):
        return state, False
    m = state.metrics
    post = event.post
    kind_field = _KIND_FIELD[post.kind]
    metrics = m.model_copy(
        update={
            "posts": m.posts + 1,
            kind_field: getattr(m, kind_field) + 1,
            event.sentiment.label: getattr(m, event.sentiment.label) + 1,
            "compound_sum": m.compound_sum + event.sentiment.compound,
            "reach": m.reach + post.author.followers,
            "unique_authors": m.unique_authors + (1 if new_author else 0),
            "key_person_posts": m.key_person_posts + (1 if event.key_people else 0),
            "top_posts": _top_posts(m.top_posts, event, top_posts),
        }
    )
    high_water = {**state.high_water, event.evidence.raw_partition: event.evidence.raw_offset}
    return BucketState(metrics=metrics, high_water=high_water), True
