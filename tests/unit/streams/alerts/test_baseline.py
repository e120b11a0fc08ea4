"""The learned baseline and the score: the statistics under the volume spike and negative surge detectors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.alerts.baseline import (
    Baseline,
    dispersion_of,
    expected,
    learn,
    profile_weight,
    score,
    shape,
    spread,
    stabilised,
    unstabilised,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def baseline_factory():
    """baseline_factory(counts, interval_s=60, firing=False) -> the baseline after learning `counts`, one per
    interval from T0; `counts` may be a callable of the interval's start."""

    def make(counts, steps: int | None = None, interval_s: int = 60, firing: bool = False) -> Baseline:
        baseline = Baseline(interval_s=interval_s)
        step = timedelta(seconds=interval_s)
        if callable(counts):
            counts = [counts(T0 + step * i) for i in range(steps)]
        for i, count in enumerate(counts):
            baseline = learn(baseline, T0 + step * i, count, 0.1, firing=firing)
        return baseline

    return make


def _poisson_tail(expectation: float, at_least: int) -> float:
    """P(X >= at_least) for X ~ Poisson(expectation), summed in log space."""
    if at_least <= 0:
        return 1.0
    below = sum(math.exp(k * math.log(expectation) - expectation - math.lgamma(k + 1)) for k in range(at_least))
    return max(0.0, 1.0 - below)


# ---- score --------------------------------------------------------------------------------------------------


def test_score_examples_of_the_docstring():
    assert score(3, 0.5, 0.1) == pytest.approx(1.8, abs=0.05)
    assert score(25, 5, 0.1) == pytest.approx(5.1, abs=0.05)
    assert score(2000, 1000, 0.1) == pytest.approx(6.7, abs=0.05)
    assert score(2000, 1000, 0.0) == pytest.approx(26, abs=0.5)
    assert score(100, 100, 0.1) == 0


def test_three_posts_against_half_a_post_is_not_an_alert():
    gaussian_z = (3 - 0.5) / math.sqrt(0.5)
    assert gaussian_z > 3.5
    assert score(3, 0.5, 0.1) < 2
    assert score(3, 0.01, 0.1) < 3  # the Gaussian z would be 30


def test_at_high_counts_the_score_measures_the_ratio():
    # ~ ln(observed / expected) / dispersion: the same doubling scores about the same at 10k as at 100k
    assert score(20_000, 10_000, 0.1) == pytest.approx(score(200_000, 100_000, 0.1), abs=0.1)
    assert score(20_000, 10_000, 0.1) == pytest.approx(math.log(2) / 0.1, rel=0.05)


def test_spread_adds_overdispersion_to_poisson():
    assert spread(100, 0.1) == pytest.approx(math.sqrt(200))
    assert spread(1, 0.1) == pytest.approx(1.005, abs=1e-3)
    assert spread(0, 0.1) == 0


@settings(max_examples=200)
@given(
    expectation=st.floats(0, 1e6),
    low=st.floats(0, 1e6),
    high=st.floats(0, 1e6),
    k=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
)
def test_score_grows_with_the_observed_count_and_falls_with_the_expectation(expectation, low, high, k):
    low, high = sorted((low, high))
    assert score(low, expectation, k) <= score(high, expectation, k)
    assert score(expectation, low, k) >= score(expectation, high, k)
    assert score(expectation, expectation, k) == 0
    assert math.isfinite(score(high, low, k))


@settings(max_examples=150)
@given(expectation=st.floats(0.01, 2000))
def test_a_score_of_4_is_rare_under_poisson_noise_at_any_count(expectation):
    """The score respects Poisson noise: the chance that a Poisson count reaches a score of 4 stays below
    1e-4 however small or large the expectation (a Gaussian z would alert on single posts at low counts)."""
    needed = 0
    while score(needed, expectation, 0.1) < 4:
        needed += 1
    assert _poisson_tail(expectation, needed) < 1e-4


@given(count=st.floats(0, 1e7), k=st.floats(0.01, 1))
def test_the_transform_tends_to_anscombe_as_the_dispersion_vanishes(count, k):
    assert stabilised(count, 1e-9) == pytest.approx(2 * math.sqrt(count + 0.375), rel=1e-6)
    assert stabilised(count, k) <= 2 * math.sqrt(count + 0.375) + 1e-9


@given(count=st.floats(0, 1e7), k=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3]))
def test_unstabilised_inverts_the_transform(count, k):
    assert unstabilised(stabilised(count, k), k) == pytest.approx(count, rel=1e-9, abs=1e-6)


# ---- learning -----------------------------------------------------------------------------------------------


def test_learning_clips_a_spike_and_learns_slower_while_firing(baseline_factory):
    calm = baseline_factory([10.0] * 600)
    assert calm.level == pytest.approx(10)
    spike = learn(calm, T0 + 600 * MINUTE, 40, 0.1)
    assert spike.level == pytest.approx(10 + (10 + 3 * math.sqrt(11) - 10) / 60, abs=1e-6)  # 10.17, not 10.5
    assert spike.level == pytest.approx(10.17, abs=0.01)
    slow = learn(calm, T0 + 600 * MINUTE, 40, 0.1, firing=True)
    assert slow.level == pytest.approx(10.04, abs=0.01)
    dip = learn(calm, T0 + 600 * MINUTE, 8, 0.1)
    assert dip.level == pytest.approx(9.967, abs=1e-3)


def test_a_single_post_at_a_quiet_time_is_learned_whole(baseline_factory):
    # the clip allows at least 3 posts above the expectation: low counts are not biased downwards
    quiet = baseline_factory([0.0] * 100)
    after = learn(quiet, T0 + 100 * MINUTE, 2, 0.1)
    assert after.level == pytest.approx(2 / 60)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the factory keeps no state
@given(floor=st.floats(0, 1000), counts=st.lists(st.floats(0, 3), min_size=1, max_size=60))
def test_the_first_hour_is_a_plain_average(baseline_factory, floor, counts):
    counts = [floor + c for c in counts]  # within 3 posts of each other: nothing is clipped
    baseline = baseline_factory(counts)
    assert baseline.level == pytest.approx(sum(counts) / len(counts), rel=1e-9, abs=1e-9)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(0, 500), min_size=1, max_size=300), firing=st.booleans())
def test_the_level_stays_within_what_was_seen(baseline_factory, counts, firing):
    baseline = baseline_factory(counts, firing=firing)
    assert 0 <= baseline.level <= max(counts) + 1e-9
    assert all(0 <= slot <= max(counts) + 1e-9 for slot in baseline.slots)


def test_the_first_learned_value_sets_the_level(baseline_factory):
    assert expected(Baseline(interval_s=60), T0) == 0
    assert expected(baseline_factory([7.0]), T0) == 7


# ---- the day shape ------------------------------------------------------------------------------------------


def _halves(t: datetime) -> float:
    return 2.0 if t.hour < 12 else 18.0


def test_shape_scenario_of_the_docstring(baseline_factory):
    baseline = baseline_factory(_halves, steps=3 * 1440)
    day = T0 + timedelta(days=3)
    assert shape(baseline, day.replace(hour=6)) == pytest.approx(0.2, abs=0.01)
    assert shape(baseline, day.replace(hour=18)) == pytest.approx(1.83, abs=0.01)
    assert shape(baseline, day.replace(hour=11, minute=30)) == pytest.approx(0.2, abs=0.02)
    # the interval 11:59:30-12:00:30 is centred between slot 11 (centre 11:30) and slot 12 (12:30)
    halfway = (
        shape(baseline, day.replace(hour=11, minute=29, second=30))
        + shape(baseline, day.replace(hour=12, minute=29, second=30))
    ) / 2
    assert shape(baseline, day.replace(hour=11, minute=59, second=30)) == pytest.approx(halfway)


def test_the_shape_of_a_quiet_series_is_shrunk_towards_flat(baseline_factory):
    baseline = baseline_factory(lambda t: _halves(t) / 100, steps=3 * 1440)
    day = T0 + timedelta(days=3)
    assert shape(baseline, day.replace(hour=6)) == pytest.approx(0.28, abs=0.02)
    assert shape(baseline, day.replace(hour=18)) == pytest.approx(1.72, abs=0.02)


def test_a_silent_series_does_not_read_its_first_busy_hour_as_its_rhythm(baseline_factory):
    # three silent days, then 5 posts a minute from 20:00: the 20:00 slot alone holds posts
    since = T0 + timedelta(days=3, hours=20)
    baseline = baseline_factory(lambda t: 5.0 if t >= since else 0.0, steps=3 * 1440 + 20 * 60 + 30)
    at = T0 + timedelta(days=3, hours=20, minutes=30)
    assert shape(baseline, at) == pytest.approx(4.0)  # SHAPE_MAX, not the 24 of "only this hour ever has posts"


def test_shape_is_flat_on_the_first_day_and_phases_in_over_the_second(baseline_factory):
    first_day = baseline_factory(_halves, steps=1440 - 1)
    assert profile_weight(first_day) == 0
    assert shape(first_day, T0.replace(hour=6)) == 1
    one_and_a_half = baseline_factory(_halves, steps=36 * 60)
    assert profile_weight(one_and_a_half) == pytest.approx(0.5)
    assert shape(one_and_a_half, T0.replace(hour=6)) == pytest.approx(0.6, abs=0.02)


def test_the_shape_follows_a_day_night_rhythm_so_the_expectation_does(baseline_factory):
    def rhythm(t: datetime) -> float:  # 10x between 03:00 and 15:00
        return 5.5 + 4.5 * math.cos(2 * math.pi * (t.hour + t.minute / 60 - 15) / 24)

    baseline = baseline_factory(rhythm, steps=4 * 1440)
    day = T0 + timedelta(days=4)
    for hour in range(24):
        t = day + timedelta(hours=hour, minutes=17)
        assert expected(baseline, t) == pytest.approx(rhythm(t), rel=0.1, abs=0.15), hour


def test_dispersion_is_wider_until_the_shape_is_learned(baseline_factory):
    assert dispersion_of(baseline_factory([1.0] * 60), 0.1) == pytest.approx(0.2)
    assert dispersion_of(baseline_factory([1.0] * (48 * 60)), 0.1) == pytest.approx(0.1)


def test_the_baseline_is_small_json_and_round_trips(baseline_factory):
    baseline = baseline_factory(_halves, steps=2000)
    text = baseline.model_dump_json()
    assert len(text) < 1500
    assert Baseline.model_validate_json(text) == baseline


def test_a_five_minute_baseline_learns_per_interval(baseline_factory):
    baseline = baseline_factory([5.0] * (3 * 288), interval_s=300)
    assert baseline.learned_hours == pytest.approx(72)
    assert expected(baseline, T0 + timedelta(days=3)) == pytest.approx(5)
