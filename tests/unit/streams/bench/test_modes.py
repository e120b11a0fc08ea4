"""The pure parts of the bench modes: partition balance, and the posts the hot-brand mode makes."""

from __future__ import annotations

import doctest
import math

from hypothesis import given
from hypothesis import strategies as st

from streams.bench import modes
from streams.bench.modes import differences, hot_brand_posts, partition_skew
from streams.core.matching import Matcher


def test_examples():
    assert doctest.testmod(modes).failed == 0


def test_skew():
    assert partition_skew({0: 5, 1: 5}) == 1.0
    assert partition_skew({0: 30, 1: 10, 2: 0, 3: 0}) == 3.0  # mean 10
    assert math.isnan(partition_skew({0: 0, 1: 0}))
    assert math.isnan(partition_skew({}))


@given(st.dictionaries(st.integers(0, 63), st.integers(0, 10**6), min_size=1))
def test_skew_lies_between_even_and_all_in_one(per_partition):
    skew = partition_skew(per_partition)
    if sum(per_partition.values()) == 0:
        assert math.isnan(skew)
    else:
        assert 1.0 - 1e-9 <= skew <= len(per_partition) + 1e-9


def test_differences_cover_every_partition():
    assert differences({0: 5, 1: 7}, {0: 9, 1: 7, 3: 2}, partitions=4) == {0: 4, 1: 0, 2: 0, 3: 2}


def test_hot_brand_posts_name_the_first_brand_alone_and_stay_varied(watch_config):
    posts = hot_brand_posts(watch_config, 3000, seed=1)
    matcher = Matcher(watch_config)
    first = watch_config.brands[0].id
    assert all([m.brand for m in matcher.brands(p.text)] == [first] for p in posts)
    assert len({p.text for p in posts}) / len(posts) > 0.9
    assert len({p.id for p in posts}) == len(posts)
