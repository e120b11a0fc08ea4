"""The worker's side of alerting: what a planned batch tells the alert engine (`schemas.signals`).

Pure: from the batch's writes to one `Signal` per raw partition the batch touched. Which posts are notable
follows the watch file's rules: a key person took part, the author has at least the followers the brand's
key_person rule asks for, or the text matches the brand's keyword query (evaluated here, where the text
is, so that the engine never sees every post).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alert_config import KeyPerson, Keyword
from schemas.pipeline import PartitionCounters
from schemas.records import PostKind, ScoredPost
from schemas.signals import NotablePost, Share, Signal
from schemas.watch import WatchConfig
from streams.alerts.query import Query, parse_query
from streams.core.batch import BatchWrites, failure_reason

#: characters of a notable post's text carried to the engine (evidence, notifications)
NOTABLE_TEXT_CHARS = 280


class SignalPlanner:
    """Per brand, what makes a post notable. Scenario: nordair with `keyword: {query: "lawsuit"}` and
    `key_person: {min_followers: 100000}`: a post "@nordair lawsuit filed" by an author with 20 followers ->
    notable (keyword=True); "@nordair hi" by an author with 250,000 followers -> notable; "@nordair hi" by
    @ingrid_news (a key person) -> notable with her hit; "@nordair hi" by nobody in particular -> not
    notable; a repost of x:1 about nordair -> a Share of x:1."""

    def __init__(self, watch: WatchConfig) -> None:
        self._queries: dict[str, Query] = {}
        self._min_followers: dict[str, int | None] = {}
        self._key_person_rule: set[str] = set()
        for watched, _role in watch.watched():
            rules = watch.alerts.rules.for_brand(watched.id)
            keyword = rules.get("keyword")
            if isinstance(keyword, Keyword):
                self._queries[watched.id] = parse_query(keyword.query)
            key_person = rules.get("key_person")
            if isinstance(key_person, KeyPerson):
                self._key_person_rule.add(watched.id)
                self._min_followers[watched.id] = key_person.min_followers

    def notable(self, event: ScoredPost) -> NotablePost | None:
        brand, post = event.brand, event.post
        keyword = brand in self._queries and self._queries[brand].matches(post.text)
        people = event.key_people if brand in self._key_person_rule else ()
        threshold = self._min_followers.get(brand)
        famous = threshold is not None and post.author.followers >= threshold
        if not (keyword or people or famous):
            return None
        return NotablePost(
            brand=brand,
            post_id=post.id,
            raw_offset=event.evidence.raw_offset,
            created_at=post.created_at,
            author_handle=post.author.handle,
            followers=post.author.followers,
            key_people=people,
            keyword=keyword,
            compound=event.sentiment.compound,
            label=event.sentiment.label,
            text=post.text[:NOTABLE_TEXT_CHARS],
            url=post.url,
        )

    def signals(self, writes: BatchWrites) -> tuple[list[Signal], list[SignalFailure]]:
        """One Signal per raw partition of the batch, with that partition's partials, notable posts, shares,
        counted offset and watermark (a batch of only unmatched posts still moves the engine's time); and the
        posts whose part of a signal could not be made (the post itself is counted; the agent puts a copy in
        the deadletter topic with the reason, and the batch goes on)."""
        failures: list[SignalFailure] = []
        by_partition: dict[int, tuple[list, list, list]] = {p: ([], [], []) for p in writes.counters}
        for metrics in writes.metrics.values():
            if metrics.raw_partition in by_partition:
                by_partition[metrics.raw_partition][0].append(metrics)
        for event in writes.posts:
            p = event.evidence.raw_partition
            if p not in by_partition:
                continue
            try:
                notable, share = self.notable(event), self.share(event)
            except Exception as exc:  # one post must never stop the partition
                failures.append(SignalFailure(p, event.evidence.raw_offset, f"alert signal: {failure_reason(exc)}"))
                continue
            if notable is not None:
                by_partition[p][1].append(notable)
            if share is not None:
                by_partition[p][2].append(share)
        signals = [
            signal_of(p, writes.counters[p], partials, posts, shares)
            for p, (partials, posts, shares) in sorted(by_partition.items())
        ]
        return signals, failures

    @staticmethod
    def share(event: ScoredPost) -> Share | None:
        post = event.post
        if post.kind not in (PostKind.REPOST, PostKind.QUOTE) or not post.referenced_id:
            return None
        return Share(
            brand=event.brand,
            referenced_id=post.referenced_id,
            raw_offset=event.evidence.raw_offset,
            created_at=post.created_at,
            kind=post.kind,
        )


@dataclass(frozen=True)
class SignalFailure:
    """A counted post whose notable-post or share entry could not be made."""

    partition: int
    offset: int
    reason: str


def signal_of(partition: int, counters: PartitionCounters, partials=(), posts=(), shares=(), idle=False) -> Signal:
    return Signal(
        raw_partition=partition,
        last_offset=counters.last_offset,
        watermark_s=counters.event_time_s,
        idle=idle,
        # the rules do not read a bucket's terms: the engine's log and state stay without them
        partials=tuple(
            sorted(
                (m.model_copy(update={"terms": (), "hashtags": (), "languages": ()}) for m in partials),
                key=lambda m: (m.brand, m.bucket_start),
            )
        ),
        posts=tuple(posts),
        shares=tuple(shares),
    )
