"""The percentile behind every latency figure of `lytte bench`."""

from __future__ import annotations

import doctest
import math

from hypothesis import given
from hypothesis import strategies as st

from streams.bench import latency
from streams.bench.latency import percentile


def test_examples():
    assert doctest.testmod(latency).failed == 0
    assert percentile([10, 20, 30, 40], 50) == 20
    assert percentile([10, 20, 30, 40], 99) == 40
    assert percentile([10, 20, 30, 40], 0) == 10
    assert math.isnan(percentile([], 50))


@given(st.lists(st.integers(-1000, 10**6), min_size=1), st.floats(0.5, 100))
def test_nearest_rank(samples, q):
    p = percentile(samples, q)
    assert p in samples
    # at least q % of the samples are at or below it, and fewer than q % are below it
    assert sum(s <= p for s in samples) >= q / 100 * len(samples) - 1e-9
    assert sum(s < p for s in samples) < q / 100 * len(samples)


@given(st.lists(st.integers(0, 10**5), min_size=1))
def test_median_and_tail_are_ordered(samples):
    assert min(samples) <= percentile(samples, 50) <= percentile(samples, 99) <= max(samples)
