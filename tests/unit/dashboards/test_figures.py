from datetime import UTC, datetime, timedelta

from dashboards.figures import summarize, volume_figure, window
from schemas.records import BucketMetrics

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)


def bucket(minutes_ago: int, posts: int, positive: int = 0, negative: int = 0) -> BucketMetrics:
    start = NOW.replace(second=0) - timedelta(minutes=minutes_ago)
    return BucketMetrics(
        brand="b",
        bucket_start=start,
        posts=posts,
        positive=positive,
        negative=negative,
        neutral=posts - positive - negative,
        reach=posts * 10,
    )


def test_summary_over_the_hour_and_the_last_minutes():
    buckets = [bucket(90, 50, negative=50), bucket(30, 6, positive=6), bucket(2, 4, negative=4)]
    s = summarize(buckets, NOW)
    assert (s.posts, s.recent_posts, s.reach) == (10, 4, 100)
    assert s.net_sentiment == (6 - 4) / 10
    assert s.recent_net == -1.0
    assert not s.flagged  # four posts are too few to flag


def test_a_negative_surge_flags_the_tile():
    s = summarize([bucket(1, 20, positive=2, negative=12), bucket(0, 10, negative=8)], NOW)
    assert s.flagged


def test_empty_history_is_calm():
    s = summarize([], NOW)
    assert (s.posts, s.net_sentiment, s.flagged) == (0, 0.0, False)


def test_volume_figure_shows_the_last_hour_only():
    fig = volume_figure([bucket(90, 5), bucket(10, 7, negative=3)], NOW)
    assert list(fig.data[0].y) == [7] and list(fig.data[1].y) == [3]
    assert len(window([bucket(60, 1), bucket(59, 1)], NOW, 60)) == 1
