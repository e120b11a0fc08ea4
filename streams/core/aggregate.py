"""Partial buckets: one brand's posts of one minute of event time, as counted from one `posts.raw` partition.

The worker that owns a raw partition counts its posts where they are, so a brand that takes all the
traffic spreads over every partition instead of landing on one. The view and the rules read a bucket as
the merge of its partials (`schemas.records.merge_partials`). Because posts.raw is keyed by author, an
author's posts are all in one partition: the partials' unique-author counts add up exactly.

A partial remembers the highest raw offset it has applied (`high_water`). Posts of one partition arrive in
offset order, so after a crash, records read again arrive at or below the mark and are skipped: nothing is
counted twice.

Unique authors are not a set inside the bucket (that would make every changelog write as large as the
bucket's audience): a separate small entry per (partial bucket, author), written with the batch's other
entries (`streams.core.entries`), names the post that introduced the author (`streams.core.dedup.
introduced_here` reads it), so that a crash between the two writes still counts the author exactly once.

A partial also keeps the top terms and hashtags of its posts (`streams.core.terms`), without the brand's
own names as the post wrote them (every post on the Nordair tile says "nordair": it tells nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from itertools import filterfalse

from pydantic import BaseModel, ConfigDict, Field

from schemas.records import (
    HASHTAGS_KEPT,
    LANGUAGES_KEPT,
    TERMS_KEPT,
    BucketMetrics,
    PostKind,
    ScoredPost,
    SentimentLabel,
    TopPost,
    rank_top_posts,
)
from streams.core.terms import space_saving, terms_of

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


def bucket_key(brand: str, start: datetime, partition: int) -> str:
    """("nordair", 10:42Z, raw partition 3) -> "nordair|1795516920|3": one table key per partial bucket."""
    return f"{brand}|{int(start.timestamp())}|{partition}"


def key_minute(key: str) -> int:
    """The epoch minute of a bucket or author key: "nordair|1795516920|3" -> 29925282."""
    return int(key.split("|", 2)[1]) // BUCKET_SECONDS


class BucketState(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics: BucketMetrics
    high_water: int = -1
    #: operators' corrections in effect: post id -> (label, the action's time in epoch ms)
    #: (`streams.core.correction`)
    corrected: dict[str, tuple[SentimentLabel, int]] = Field(default_factory=dict)

    @classmethod
    def empty(cls, brand: str, start: datetime, partition: int) -> BucketState:
        return cls(metrics=BucketMetrics(brand=brand, bucket_start=start, raw_partition=partition))

    def already_applied(self, event: ScoredPost) -> bool:
        return event.evidence.raw_offset <= self.high_water


def _top_post(event: ScoredPost) -> TopPost:
    post = event.post
    return TopPost(
        post_id=post.id,
        author_handle=post.author.handle,
        reach=post.author.followers,
        compound=event.sentiment.compound,
        text=post.text[:_TOP_POST_TEXT_CHARS],
        url=post.url,
        label=event.sentiment.label,
    )


def _enters_top(top: tuple[TopPost, ...], event: ScoredPost, keep: int) -> bool:
    """Whether the post ranks among the `keep` widest (ranked as `rank_top_posts` ranks)."""
    if len(top) < keep:
        return True
    last = top[-1]
    return (-event.post.author.followers, event.post.id) < (-last.reach, last.post_id)


@lru_cache(maxsize=1024)  # a watch list has a few names, written a few ways
def own_names(matched_terms: tuple[str, ...]) -> frozenset[str]:
    """The terms and hashtags that name the brand itself, from what matched it in the post:
    ("#nordair", "@nordair_help", "nord air") -> {"#nordair", "nordair_help", "nord", "air"}."""
    names: set[str] = set()
    for matched in matched_terms:
        if matched.startswith("#"):
            names.add(matched)
        else:
            names.update(matched.removeprefix("@").split())
    return frozenset(names)


def _post_terms(event: ScoredPost) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The post's terms and hashtags that count for its brand's bucket (sorted, distinct)."""
    terms, hashtags = terms_of(event.post.text, event.language)
    own = own_names(event.matched_terms)
    if not own.isdisjoint(terms):
        terms = tuple(filterfalse(own.__contains__, terms))
    if hashtags and not own.isdisjoint(hashtags):
        hashtags = tuple(filterfalse(own.__contains__, hashtags))
    return terms, hashtags


def author_key(bucket: str, event: ScoredPost) -> str:
    """("nordair|1795516920|3", post by author "42") -> "nordair|1795516920|3|42"."""
    return f"{bucket}|{event.post.author.id}"


def author_entry(event: ScoredPost) -> list[int]:
    """What the authors table stores: the raw partition and offset of the post that introduced the author."""
    return [event.evidence.raw_partition, event.evidence.raw_offset]


def step(
    state: BucketState | None, event: ScoredPost, new_author: bool, top_posts: int = 3
) -> tuple[BucketState, bool]:
    """Apply one scored post to its partial bucket; return the new state and whether it counted.

    Scenario: an empty state and a negative original post (raw partition 0, offset 5) by a new author with
    1,200 followers -> posts=1, originals=1, negative=1, reach=1200, unique_authors=1, high_water=5,
    applied=True; its text "@nordair lost my bag #fail" -> terms (bag 1, lost 1), hashtags (#fail 1); in English
    -> languages (en 1); in German (no sentiment model) -> also unscored=1. The same
    event again (as after a crash) or any offset up to 5 -> unchanged, applied=False.
    """
    ev = event.evidence
    if state is None:
        state = BucketState.empty(event.brand, bucket_start(event.post.created_at), ev.raw_partition)
    if state.already_applied(event):
        return state, False
    m = state.metrics
    post = event.post
    kind_field = _KIND_FIELD[post.kind]
    top = m.top_posts
    if top_posts > 0 and _enters_top(top, event, top_posts):
        top = rank_top_posts((*top, _top_post(event)), top_posts)
    terms, hashtags = _post_terms(event)
    metrics = m.model_copy(
        update={
            "posts": m.posts + 1,
            kind_field: getattr(m, kind_field) + 1,
            event.sentiment.label: getattr(m, event.sentiment.label) + 1,
            "compound_sum": m.compound_sum + event.sentiment.compound,
            "reach": m.reach + post.author.followers,
            "unique_authors": m.unique_authors + (1 if new_author else 0),
            "key_person_posts": m.key_person_posts + (1 if event.key_people else 0),
            "top_posts": top,
            "terms": space_saving(m.terms, terms, TERMS_KEPT),
            "hashtags": space_saving(m.hashtags, hashtags, HASHTAGS_KEPT),
            "languages": space_saving(m.languages, (event.language,), LANGUAGES_KEPT),
            "unscored": m.unscored + (0 if event.sentiment.scored else 1),
        }
    )
    # model_copy and model_construct skip validation: every value here is derived from validated ones
    return BucketState.model_construct(metrics=metrics, high_water=ev.raw_offset, corrected=state.corrected), True
