from datetime import UTC, datetime

from schemas.records import HASHTAGS_KEPT, TERMS_KEPT, Author, PostKind
from streams.core.aggregate import BucketState, author_entry, bucket_key, bucket_start, key_minute, own_names, step
from streams.core.dedup import introduced_here


def test_bucket_start_floors_to_the_minute():
    assert bucket_start(datetime(2026, 11, 24, 10, 42, 59, 900000, tzinfo=UTC)) == datetime(
        2026, 11, 24, 10, 42, tzinfo=UTC
    )
    assert bucket_key("nordair", datetime(2026, 11, 24, 10, 42, tzinfo=UTC), 3) == "nordair|1795516920|3"
    assert key_minute("nordair|1795516920|3") == 1795516920 // 60
    assert key_minute("nordair|1795516920|3|author-1") == 1795516920 // 60


def test_step_counts_every_dimension(scored_factory):
    a = Author(id="1", handle="a", followers=1200)
    s, applied = step(None, scored_factory(compound=-0.6, author=a, partition=2), new_author=True)
    assert applied
    m = s.metrics
    assert (m.posts, m.originals, m.negative, m.reach, m.unique_authors) == (1, 1, 1, 1200, 1)
    assert m.raw_partition == 2
    s, _ = step(
        s, scored_factory(compound=0.5, kind=PostKind.REPOST, referenced_id="x:1", author=a, partition=2), False
    )
    s, _ = step(s, scored_factory(compound=0.0, kind=PostKind.REPLY, followers=10, partition=2), new_author=True)
    s, _ = step(s, scored_factory(compound=0.0, kind=PostKind.QUOTE, followers=5, partition=2), new_author=True)
    m = s.metrics
    assert (m.posts, m.originals, m.reposts, m.replies, m.quotes) == (4, 1, 1, 1, 1)
    assert (m.positive, m.neutral, m.negative) == (1, 2, 1)
    assert m.reach == 1200 + 1200 + 10 + 5
    assert m.unique_authors == 3
    assert round(m.mean_compound, 3) == round(-0.1 / 4, 3)
    assert m.net_sentiment == 0.0


def test_step_skips_what_it_has_already_applied(scored_factory):
    first = scored_factory(partition=2, offset=10)
    s, _ = step(None, first, new_author=True)
    again, applied = step(s, first, new_author=True)
    assert not applied and again == s
    older, applied = step(s, scored_factory(partition=2, offset=9), new_author=True)
    assert not applied and older == s
    newer, applied = step(s, scored_factory(partition=2, offset=11), new_author=True)
    assert applied and newer.metrics.posts == 2 and newer.high_water == 11


def test_top_posts_keep_the_highest_reach(scored_factory):
    s = None
    for followers in [5, 500, 50, 5000, 1]:
        s, _ = step(s, scored_factory(followers=followers), new_author=True, top_posts=3)
    assert [t.reach for t in s.metrics.top_posts] == [5000, 500, 50]


def test_author_entries_survive_a_crash_between_writes(scored_factory):
    event = scored_factory(partition=1, offset=7)
    assert introduced_here(None, 1, 7)
    assert introduced_here(author_entry(event), 1, 7)  # written by this post before a crash
    assert not introduced_here([1, 3], 1, 7)


def test_step_counts_terms_and_hashtags_once_per_post(scored_factory):
    s, _ = step(None, scored_factory(text="@nordair lost my bag #fail"), new_author=True)
    assert s.metrics.terms == (("bag", 1), ("lost", 1))
    assert s.metrics.hashtags == (("#fail", 1),)
    s, _ = step(s, scored_factory(text="Bag lost, bag stolen, #FAIL #fail #delay"), new_author=True)
    assert s.metrics.terms == (("bag", 2), ("lost", 2), ("stolen", 1))
    assert s.metrics.hashtags == (("#fail", 2), ("#delay", 1))


def test_a_post_skipped_as_applied_counts_no_terms(scored_factory):
    first = scored_factory(text="refund please", partition=2, offset=10)
    s, _ = step(None, first, new_author=True)
    again, applied = step(s, first, new_author=True)
    older, applied_older = step(s, scored_factory(text="refund refund", partition=2, offset=9), new_author=True)
    assert not applied and not applied_older
    assert again.metrics.terms == older.metrics.terms == (("refund", 1),)


def test_the_brands_own_names_are_no_terms(scored_factory):
    event = scored_factory(text="Nord Air and #NordAir lost it, ask @nordair_help #fail")
    event = event.model_copy(update={"matched_terms": ("#nordair", "@nordair_help", "nord air")})
    s, _ = step(None, event, new_author=True)
    assert [t.term for t in s.metrics.terms] == ["lost"]
    assert [t.term for t in s.metrics.hashtags] == ["#fail"]
    assert own_names(("#nordair", "@nordair_help", "nord air")) == {"#nordair", "nordair_help", "nord", "air"}


def test_terms_are_bounded(scored_factory):
    s = None
    for i in range(40):
        s, _ = step(s, scored_factory(text=f"word{i:02d}x common #tag{i:02d}"), new_author=True)
    assert len(s.metrics.terms) == TERMS_KEPT and len(s.metrics.hashtags) == HASHTAGS_KEPT
    assert s.metrics.terms[0] == ("common", 40)


def test_the_same_posts_in_the_same_order_give_the_same_partial_byte_for_byte(post_factory, scored_factory):
    texts = [f"gate {i % 7} delay{i % 5} crew{i % 11} refund{i % 3} #t{i % 13} #fail" for i in range(200)]
    posts = [post_factory(text=t, created_at=datetime(2026, 11, 24, 10, 42, tzinfo=UTC)) for t in texts]
    events = [scored_factory(partition=1, offset=i, **p.model_dump()) for i, p in enumerate(posts)]

    def fold(reread: bool) -> bytes:
        s = None
        for event in events:
            s, _ = step(s, event, new_author=False)
            if reread:  # as the worker does between batches: the state read back from its table
                s = BucketState.model_validate(s.model_dump(mode="json"))
        return s.model_dump_json().encode()

    once = fold(reread=False)
    assert once == fold(reread=False) == fold(reread=True)
    assert b'"terms":[["gate",200]' in once


def test_step_counts_each_posts_language_and_the_unscored(scored_factory):
    from streams.sentiment.router import UNSCORED

    s, _ = step(None, scored_factory(text="Nordair lost my bag"), new_author=True)
    danish = scored_factory(text="Nordair mistede min kuffert").model_copy(update={"language": "da"})
    s, _ = step(s, danish, new_author=True)
    german = scored_factory(text="Nordair hat meinen Koffer verloren")
    s, _ = step(s, german.model_copy(update={"language": "de", "sentiment": UNSCORED}), new_author=True)
    s, _ = step(s, scored_factory(text="Nordair again"), new_author=False)
    assert s.metrics.languages == (("en", 2), ("da", 1), ("de", 1))
    assert (s.metrics.unscored, s.metrics.neutral) == (1, 4)  # unscored posts are neutral too
