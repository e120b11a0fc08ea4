from schemas.settings import Settings
from streams.core.expiry import ExpiryIndex, expiry_minute, horizon_s


def test_the_index_hands_out_each_expired_key_once_per_partition():
    index = ExpiryIndex()
    index.add(0, "a", 5)
    index.add(0, "b", 9)
    index.add(1, "c", 5)
    assert index.expire(0, before_minute=6) == ["a"]
    assert index.expire(0, 6) == []
    assert index.expire(1, 6) == ["c"]
    assert len(index) == 1


def test_rebuilding_replaces_what_the_index_held():
    index = ExpiryIndex()
    index.add(0, "stale", 1)
    index.rebuild([("x", 2, 7), ("y", 2, 8)])
    assert index.expire(0, 100) == []
    assert index.expire(2, 100) == ["x", "y"]


def test_the_horizon_covers_every_post_intake_still_accepts():
    settings = Settings(max_post_age_s=3600, max_future_skew_s=300)
    horizon = horizon_s(settings)
    assert horizon == 3600 + 300 + 60
    # a partition whose watermark is 5 minutes in the future (the skew intake allows) at 12:00:00 keeps
    # every minute from 11:00 on: the oldest post intake accepts at 12:00 is from 11:00
    now = 1_795_516_800  # 12:00:00Z as epoch seconds, a whole hour
    assert expiry_minute(now + 300, horizon) <= (now - 3600) // 60
