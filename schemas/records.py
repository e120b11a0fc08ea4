"""Versioned records that travel through Kafka and land in Redis.

Every record carries `schema_version`; a reader rejects versions it does not know. The JSON Schema files
in `schemas/json/` are generated from these models (`lytte schemas write`) and a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt

POST_SCHEMA_VERSION = 1
SCORED_POST_SCHEMA_VERSION = 1
BUCKET_METRICS_SCHEMA_VERSION = 2

#: X allows the longest posts of the sources we read (25,000 characters for paid accounts).
MAX_TEXT_CHARS = 25_000
#: No account has ten billion followers (the largest have a few hundred million); the bound keeps every sum
#: of followers (a bucket's reach) far inside a 64-bit integer, which is what JSON readers can hold.
MAX_FOLLOWERS = 10_000_000_000
#: Likes, reposts, replies and quotes of one post.
MAX_ENGAGEMENT = 10_000_000_000
#: A longer "word" is a code, a URL fragment or junk (and would bloat every bucket record it lands in).
MAX_TERM_CHARS = 40
#: How many terms and hashtags a bucket keeps (a partial and a merged bucket alike).
TERMS_KEPT = 24
HASHTAGS_KEPT = 12
#: How many languages a bucket counts by name (the rest are left out of the mix, never out of the counts).
LANGUAGES_KEPT = 8

Followers = Annotated[int, Field(ge=0, le=MAX_FOLLOWERS)]
EngagementCount = Annotated[int, Field(ge=0, le=MAX_ENGAGEMENT)]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise ValueError("timestamp out of range") from None


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


class Source(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    META = "meta"
    REPLAY = "replay"
    SYNTH = "synth"
    #: posts from a network lytte has no source for, sent to the generic ingest endpoint (`lytte ingest http`)
    OTHER = "other"


class PostKind(StrEnum):
    ORIGINAL = "original"
    REPOST = "repost"
    REPLY = "reply"
    QUOTE = "quote"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(Record):
    id: str = Field(min_length=1, max_length=200)
    handle: str = Field(min_length=1, max_length=200)
    display_name: str = Field(default="", max_length=500)
    followers: Followers = 0
    verified: bool = False


class Engagement(Record):
    likes: EngagementCount = 0
    reposts: EngagementCount = 0
    replies: EngagementCount = 0
    quotes: EngagementCount = 0


class Post(Record):
    """A post from any source, normalised. Key on `lytte.posts.raw`: `raw_key` (the author)."""

    schema_version: Literal[1] = POST_SCHEMA_VERSION
    source: Source
    source_id: str = Field(min_length=1, max_length=200)
    created_at: UtcDatetime
    text: str = Field(max_length=MAX_TEXT_CHARS)
    language: str | None = Field(default=None, max_length=16)
    author: Author
    kind: PostKind = PostKind.ORIGINAL
    referenced_id: str | None = Field(default=None, max_length=200)
    engagement: Engagement = Engagement()
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    #: the tags of the provider's filter rules that delivered the post (X's `matching_rules`: "brand:nordair")
    matching_rules: tuple[Annotated[str, Field(max_length=200)], ...] = Field(default=(), max_length=100)

    @property
    def id(self) -> str:
        """Globally unique: the same source id on two sources is two posts."""
        return f"{self.source.value}:{self.source_id}"

    @property
    def raw_key(self) -> bytes:
        """The key on `posts.raw`: the author (source and author id), so that all of one author's posts, and
        every repeat of a post, land in one partition. The worker counts per raw partition, so that is what
        keeps unique authors and duplicate detection exact without any exchange between partitions."""
        return f"{self.source.value}:{self.author.id}".encode()


#: A sentiment label, as a model gives it and as an operator corrects it
SentimentLabel = Literal["positive", "neutral", "negative"]


class Sentiment(Record):
    """One shape whatever the language (`streams.sentiment.router`): compound in -1..1, the shares of the text
    that read positive, neutral and negative, the label by the model's documented thresholds, the model's name
    and version. A post in a language no model covers is `scored=False`: neutral, confidence 0, never run
    through another language's lexicon and shown as fact."""

    compound: float = Field(ge=-1, le=1)
    pos: float = Field(ge=0, le=1)
    neu: float = Field(ge=0, le=1)
    neg: float = Field(ge=0, le=1)
    label: SentimentLabel
    model: str
    #: how sure the model is of the label, 0..1 (0 for an unscored post)
    confidence: float = Field(default=1.0, ge=0, le=1)
    scored: bool = True


class KeyPersonHit(Record):
    handle: str
    label: str
    role: Literal["author", "mentioned"]


class Evidence(Record):
    """Where the scored record came from in the log; lets every aggregate point back at its posts."""

    raw_partition: NonNegativeInt
    raw_offset: NonNegativeInt
    raw_timestamp_ms: NonNegativeInt


class ScoredPost(Record):
    """One post as it matters to one watched brand. Key on `lytte.posts.scored`: `brand`."""

    schema_version: Literal[1] = SCORED_POST_SCHEMA_VERSION
    post: Post
    brand: str
    brand_role: Literal["brand", "competitor"]
    language: str
    sentiment: Sentiment
    matched_terms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    key_people: tuple[KeyPersonHit, ...] = ()
    evidence: Evidence


class TopPost(Record):
    post_id: str
    author_handle: str
    reach: NonNegativeInt
    compound: float
    text: str
    url: str | None = None
    #: the post's label: the model's, or an operator's correction of it; None in records written before the
    #: label was kept (readers then take it from `compound` by VADER's thresholds)
    label: SentimentLabel | None = None


class TermCount(NamedTuple):
    """A term ("delay") or hashtag ("#fail") and the posts of a bucket that contain it; JSON `["delay", 5]`.

    A partial counts with the Space-Saving algorithm (`streams.core.terms.space_saving`): while a partial has
    seen no more distinct terms than it keeps, its counts are exact; after that a count is an upper bound
    (a term that took the place of an evicted one starts from the evicted count), and a term that makes more
    than 1/K of all the term occurrences the partial counted (K entries kept) is sure to be among them."""

    term: Annotated[str, Field(min_length=1, max_length=MAX_TERM_CHARS + 1)]  # + 1: a hashtag's "#"
    count: NonNegativeInt


class BucketMetrics(Record):
    """One brand's one-minute bucket of event time, as counted from one `posts.raw` partition (a partial,
    `raw_partition` set) or from all of them (merged, `raw_partition` None). Key on `lytte.metrics`: `brand`;
    a later record for the same (brand, bucket_start, raw_partition) replaces an earlier one, and a bucket is
    the merge of its partials (`merge_partials`).

    Partials add up exactly: a post is counted in the partition its author's posts go to (`Post.raw_key`),
    so no post and no author is counted in two partials. The top terms and hashtags are the exception: each
    partial keeps its top few, so their merge is approximate (`top_terms`).

    `terms`, `hashtags`, `languages` and `unscored` came after version 2 was out: a record without them reads as
    one with none. `unscored` posts (a language no sentiment model covers) are also counted as neutral."""

    schema_version: Literal[2] = BUCKET_METRICS_SCHEMA_VERSION
    brand: str
    bucket_start: UtcDatetime
    raw_partition: NonNegativeInt | None = None
    posts: NonNegativeInt = 0
    originals: NonNegativeInt = 0
    reposts: NonNegativeInt = 0
    replies: NonNegativeInt = 0
    quotes: NonNegativeInt = 0
    positive: NonNegativeInt = 0
    neutral: NonNegativeInt = 0
    negative: NonNegativeInt = 0
    compound_sum: float = 0.0
    reach: NonNegativeInt = 0
    unique_authors: NonNegativeInt = 0
    key_person_posts: NonNegativeInt = 0
    top_posts: tuple[TopPost, ...] = ()
    terms: tuple[TermCount, ...] = ()  # ranked by `rank_terms`, at most TERMS_KEPT
    hashtags: tuple[TermCount, ...] = ()  # ranked by `rank_terms`, at most HASHTAGS_KEPT
    languages: tuple[TermCount, ...] = ()  # posts per language, ranked, at most LANGUAGES_KEPT
    unscored: NonNegativeInt = 0

    @property
    def mean_compound(self) -> float:
        return self.compound_sum / self.posts if self.posts else 0.0

    @property
    def net_sentiment(self) -> float:
        """(positive - negative) / posts, in [-1, 1]; 0 for an empty bucket."""
        return (self.positive - self.negative) / self.posts if self.posts else 0.0


_SUMMED = (
    "posts",
    "originals",
    "reposts",
    "replies",
    "quotes",
    "positive",
    "neutral",
    "negative",
    "compound_sum",
    "reach",
    "unique_authors",
    "key_person_posts",
    "unscored",
)


def rank_top_posts(posts: Iterable[TopPost], keep: int) -> tuple[TopPost, ...]:
    """The `keep` posts of widest reach, ties by post id: the same order in a partial and in a merge."""
    return tuple(sorted(posts, key=lambda t: (-t.reach, t.post_id))[:keep])


def rank_terms(counts: Iterable[tuple[str, int]], keep: int) -> tuple[TermCount, ...]:
    """The `keep` (term, count) pairs of highest count, ties by term: [("gate", 2), ("delay", 5), ("crew",
    2)], keep 2 -> (TermCount("delay", 5), TermCount("crew", 2)). Every bucket stores its terms in this order,
    so the same counts always make the same record."""
    ranked = sorted(counts, key=_term_rank)[:keep] if keep > 0 else []
    return tuple(TermCount(term, count) for term, count in ranked)


def _term_rank(term_count: tuple[str, int]) -> tuple[int, str]:
    return -term_count[1], term_count[0]


def top_terms(term_lists: Iterable[Iterable[TermCount]], keep: int) -> tuple[TermCount, ...]:
    """The counts of the same term summed over buckets (the partials of a minute, or the minutes of a window),
    then the `keep` highest (`rank_terms`).

    Approximate when the buckets were cut: each kept only its top few, so a term cut from one bucket is
    summed without its count there. Scenario, 2 kept: partition 0 keeps delay 5, refund 4 (and cut crew 3),
    partition 1 keeps crew 4, gate 4 -> (delay 5, crew 4), though crew was in 7 posts and delay in 5. Buckets
    that kept every term they saw merge exactly.
    """
    totals: dict[str, int] = {}
    for counts in term_lists:
        for term, count in counts:
            totals[term] = totals.get(term, 0) + count
    return rank_terms(totals.items(), keep)


def merge_partials(partials: Iterable[BucketMetrics]) -> list[BucketMetrics]:
    """One bucket per (brand, bucket_start) from its partials, sorted by bucket_start then brand.

    Scenario: nordair 10:42 from partition 0 (posts=3, unique_authors=2, top post reach 900) and from
    partition 3 (posts=1, unique_authors=1, top post reach 5,000) -> one nordair 10:42 bucket with posts=4,
    unique_authors=3, raw_partition None and the reach-5,000 post first. Each partial keeps its top N, so the
    merged top N is exact. Terms and hashtags are summed per term and the top kept (`top_terms`: approximate
    once a partial has cut some). A merged bucket given again merges to itself.
    """
    groups: dict[tuple[str, datetime], list[BucketMetrics]] = {}
    for partial in partials:
        groups.setdefault((partial.brand, partial.bucket_start), []).append(partial)
    merged = []
    for (brand, start), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        totals = {name: sum(getattr(m, name) for m in group) for name in _SUMMED}
        keep = max(len(m.top_posts) for m in group)
        top = rank_top_posts((t for m in group for t in m.top_posts), keep)
        terms = top_terms((m.terms for m in group), TERMS_KEPT)
        hashtags = top_terms((m.hashtags for m in group), HASHTAGS_KEPT)
        languages = top_terms((m.languages for m in group), LANGUAGES_KEPT)
        merged.append(
            BucketMetrics(
                brand=brand,
                bucket_start=start,
                **totals,
                top_posts=top,
                terms=terms,
                hashtags=hashtags,
                languages=languages,
            )
        )
    return merged


RECORD_TYPES: dict[str, type[Record]] = {
    "post": Post,
    "scored_post": ScoredPost,
    "bucket_metrics": BucketMetrics,
}
