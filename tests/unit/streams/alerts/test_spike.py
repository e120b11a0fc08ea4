"""The volume spike and negative surge detectors: what fires, what does not, and peek agreeing with observe."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.alert_config import NegativeSurge, ShareOfVoice, VolumeSpike
from streams.alerts.spike import (
    MAX_GAP_INTERVALS,
    Decision,
    ShareState,
    SpikeState,
    fires_at,
    intervals,
    observe,
    observe_share,
    peek,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
MINUTE = timedelta(minutes=1)
DAY = 1440


def poisson(rng: random.Random, mean: float) -> int:
    """An exact Poisson draw: sums of Knuth's method over chunks of at most 30."""
    total = 0
    while mean > 0:
        chunk = min(mean, 30.0)
        mean -= chunk
        limit, k, p = math.exp(-chunk), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        total += k
    return total


def day_night(mean: float, swing: float = 10.0) -> Callable[[int], float]:
    """Posts per minute at minute i: a daily cosine with max/min = `swing`, peaking at 15:00 UTC."""
    depth = (swing - 1) / (swing + 1)
    return lambda i: mean * (1 + depth * math.cos(2 * math.pi * ((i % DAY) / 60 - 15) / 24))


@pytest.fixture
def counts_factory() -> Callable[..., list[int]]:
    """counts_factory(mean, minutes, swing=10, seed=0, spikes={start: (factor, minutes)}) -> Poisson counts per
    minute from T0 of a day/night rhythm, with spikes multiplying the rate."""

    def make(mean: float, minutes: int, swing: float = 10.0, seed: int = 0, spikes=None) -> list[int]:
        rng, rate = random.Random(seed), day_night(mean, swing)
        factor = [1.0] * minutes
        for start, (times, length) in (spikes or {}).items():
            for i in range(start, min(start + length, minutes)):
                factor[i] = times
        return [poisson(rng, rate(i) * factor[i]) for i in range(minutes)]

    return make


def run(
    counts, rule: VolumeSpike, totals=None, state: SpikeState | None = None, first: int = 0, interval_s: int = 60
) -> tuple[SpikeState, list[Decision]]:
    decisions = []
    step = timedelta(seconds=interval_s)
    for i, count in enumerate(counts):
        total = None if totals is None else totals[i]
        state, decision = observe(state, rule, T0 + step * (first + i), count, total, interval_s=interval_s)
        decisions.append(decision)
    return state, decisions


def fired_at(decisions: list[Decision]) -> list[int]:
    return [i for i, d in enumerate(decisions) if d.transition == "fire"]


# ---- the scenario of the module docstring --------------------------------------------------------------------


@pytest.fixture(scope="module")
def steady() -> SpikeState:
    """Three days of exactly 10 posts a minute."""
    state, _ = run([10] * (3 * DAY), VolumeSpike())
    return state


def test_a_fivefold_spike_fires_in_its_third_minute(steady):
    _, decisions = run([50] * 3, VolumeSpike(), state=steady, first=3 * DAY)
    assert [d.transition for d in decisions] == [None, None, "fire"]
    assert [d.value for d in decisions] == [140, 180, 220]
    assert all(d.baseline == pytest.approx(100) for d in decisions)
    assert decisions[0].score == pytest.approx(2.5, abs=0.05)
    assert decisions[1].score == pytest.approx(4.4, abs=0.05)  # significant, but only 1.8x: not yet
    assert decisions[2].score == pytest.approx(6.1, abs=0.05)
    assert decisions[2].threshold == 4 and decisions[2].firing and decisions[2].warm


def test_a_spike_lasting_an_hour_stays_flagged_and_does_not_become_the_new_normal(steady):
    _, decisions = run([50] * 60 + [10] * 60, VolumeSpike(), state=steady, first=3 * DAY)
    flagged = sum(d.firing for d in decisions[:60])
    assert flagged >= 57
    assert decisions[59].firing and decisions[59].baseline < 140  # learned clipped and slowly: not 500
    resolved = [i for i, d in enumerate(decisions) if d.transition == "resolve"]
    # from minute 68 the window holds 1 spike minute (140 posts) against ~131: a score < 2; ten such: 77
    assert resolved == [77]
    assert fired_at(decisions) == [2]


def test_a_lasting_change_of_level_is_absorbed_over_hours_not_minutes(steady):
    _, decisions = run([30] * (12 * 60), VolumeSpike(), state=steady, first=3 * DAY)
    resolved = [i for i, d in enumerate(decisions) if d.transition == "resolve"]
    assert fired_at(decisions) and resolved
    assert 2 * 60 < resolved[0] < 10 * 60
    assert not decisions[-1].firing and decisions[-1].baseline == pytest.approx(300, rel=0.1)


def test_a_drop_does_not_fire(steady):
    _, decisions = run([0] * 120, VolumeSpike(), state=steady, first=3 * DAY)
    assert not any(d.firing for d in decisions)
    assert decisions[9].score < -10 and decisions[9].value == 0


# ---- calm series with a day/night rhythm -------------------------------------------------------------------


@pytest.mark.parametrize("mean", [1, 10, 100])
def test_a_calm_day_night_rhythm_fires_nothing_over_a_simulated_week(counts_factory, mean):
    rule = VolumeSpike()
    _, decisions = run(counts_factory(mean, 7 * DAY, seed=mean), rule)
    assert not fired_at(decisions)
    warm = [d.warm for d in decisions]
    assert not any(warm[: rule.warmup_minutes - 1]) and all(warm[rule.warmup_minutes :])


@pytest.mark.parametrize("mean", [0.3, 3, 30])
def test_a_calm_first_day_fires_nothing_although_the_shape_is_not_learned_yet(counts_factory, mean):
    _, decisions = run(counts_factory(mean, DAY, seed=7), VolumeSpike())
    assert not fired_at(decisions)


def test_a_calm_weekly_rhythm_fires_nothing(counts_factory):
    # the weekend at half volume, changing smoothly around midnight: the level follows within the hour
    rate = day_night(20)
    rng = random.Random(3)

    def weekday_factor(i: int) -> float:
        noon = (i - 720) / DAY
        day, part = math.floor(noon), noon - math.floor(noon)
        low = [1.0 if (d % 7) < 5 else 0.5 for d in (day, day + 1)]
        w = (1 - math.cos(math.pi * part)) / 2
        return low[0] * (1 - w) + low[1] * w

    counts = [poisson(rng, rate(i) * weekday_factor(i)) for i in range(9 * DAY)]
    _, decisions = run(counts, VolumeSpike())
    assert not fired_at(decisions)


@pytest.mark.parametrize(("mean", "times"), [(3, 5), (10, 3), (100, 3), (100, 10)])
def test_spikes_on_a_day_night_rhythm_are_caught_within_minutes(counts_factory, mean, times):
    start = 3 * DAY + 10 * 60  # 10:00 UTC: the rate is rising fast
    counts = counts_factory(mean, start + 120, seed=1, spikes={start: (times, 30)})
    _, decisions = run(counts, VolumeSpike())
    fired = fired_at(decisions)
    assert len(fired) == 1 and start <= fired[0] <= start + 8
    assert sum(d.firing for d in decisions[start : start + 30]) >= 22


# ---- low counts, min_count, ratio, warm-up ---------------------------------------------------------------------


def test_a_few_posts_for_a_quiet_brand_are_not_an_alert(counts_factory):
    quiet, _ = run([1 if i % 20 == 0 else 0 for i in range(DAY)], VolumeSpike())  # 0.05 posts a minute
    _, few = run([1, 1, 1], VolumeSpike(), state=quiet, first=DAY)  # 3 against 0.5
    assert not fired_at(few) and few[-1].score < 3
    _, many = run([4, 4, 4], VolumeSpike(), state=quiet, first=DAY)  # 12 against 0.5
    assert fired_at(many) == [2] and many[-1].value == 12 and many[-1].baseline == pytest.approx(0.5, abs=0.05)


def test_min_count_holds_back_an_otherwise_significant_window(steady):
    _, decisions = run([50] * 5, VolumeSpike(min_count=1000), state=steady, first=3 * DAY)
    assert not fired_at(decisions) and decisions[-1].score > 8


def test_ratio_holds_back_a_significant_but_modest_rise_of_a_busy_brand():
    busy, _ = run([1000] * (3 * DAY), VolumeSpike())
    _, decisions = run([1600] * 30, VolumeSpike(), state=busy, first=3 * DAY)
    assert max(d.score for d in decisions) >= 4  # 1.6x at 1,000 posts/min: score ~4.7
    assert not fired_at(decisions)
    _, decisions = run([1600] * 30, VolumeSpike(ratio=1.5), state=busy, first=3 * DAY)
    assert fired_at(decisions)


def test_nothing_fires_during_warm_up():
    rule = VolumeSpike(warmup_minutes=60)
    _, decisions = run([1] * 30 + [100] * 20, rule)
    assert not fired_at(decisions) and not any(d.warm for d in decisions)
    _, decisions = run([1] * 70 + [100] * 20, rule)
    assert fired_at(decisions) == [70]


def test_hysteresis_resolves_only_after_enough_calm_intervals_in_a_row(steady):
    rule = VolumeSpike(window_minutes=1, resolve_minutes=5)
    # fire, then calm 4 minutes, one loud minute (score >= 2 resets the count), then calm
    pattern = [60] + [10] * 4 + [25] + [10] * 6
    _, decisions = run(pattern, rule, state=steady, first=3 * DAY)
    assert [d.transition for d in decisions] == ["fire"] + [None] * 9 + ["resolve", None]
    assert decisions[5].firing and decisions[5].score >= rule.resolve_threshold


def test_five_minute_intervals_use_windows_and_warm_up_in_whole_intervals():
    rule = VolumeSpike()  # 10 minutes: 2 intervals of 5 minutes
    assert intervals(rule.window_minutes, 300) == 2 and intervals(7, 300) == 2 and intervals(1, 3600) == 1
    _, decisions = run([5] * 36, rule, interval_s=300)
    assert not decisions[34].warm and decisions[35].warm  # 180 minutes = 36 intervals
    _, decisions = run([5] * 600 + [40, 40], rule, interval_s=300)
    assert decisions[-2].transition == "fire" and decisions[-2].value == 45 and decisions[-2].baseline == 10


# ---- negative surge --------------------------------------------------------------------------------------------


def test_a_negative_surge_fires_on_negative_posts_with_a_negative_share():
    rule = NegativeSurge()
    calm, _ = run([2] * (3 * DAY), rule, totals=[20] * (3 * DAY))
    _, decisions = run([15] * 10, rule, totals=[30] * 10, state=calm, first=3 * DAY)
    # after k minutes the window holds 20 + 13k negatives of 200 + 10k posts: a share of 0.4 from k = 7
    assert fired_at(decisions) == [6]
    assert decisions[6].value == 111 and decisions[6].baseline == pytest.approx(20)
    assert decisions[5].share < 0.4 <= decisions[6].share
    # the same negatives drowned in a wave of other posts: a volume spike, not a negative surge
    _, decisions = run([15] * 10, rule, totals=[300] * 10, state=calm, first=3 * DAY)
    assert not fired_at(decisions) and decisions[-1].share == pytest.approx(0.05)


def test_negative_surge_needs_the_totals():
    with pytest.raises(ValueError, match="total"):
        observe(None, NegativeSurge(), T0, 3)
    with pytest.raises(ValueError, match="at least the negatives"):
        observe(None, NegativeSurge(), T0, 3, 2)
    state, _ = observe(None, VolumeSpike(), T0, 3)
    with pytest.raises(ValueError, match="other rule"):
        observe(state, NegativeSurge(), T0 + MINUTE, 3, 5)


# ---- the series' edges: gaps, redelivery, bad input, state ----------------------------------------------------


def test_a_gap_counts_as_zeros():
    rule = VolumeSpike()
    counts = [3, 0, 0, 4, 0, 9] * 50
    full, _ = run(counts, rule)
    gappy = None
    for i, count in enumerate(counts):
        if count:
            gappy, _ = observe(gappy, rule, T0 + i * MINUTE, count)
    last = max(i for i, c in enumerate(counts) if c)
    assert gappy == run(counts[: last + 1], rule)[0]
    assert full.recent[-1] == 9


def test_a_gap_that_ends_an_alert_reports_the_resolve(steady):
    rule = VolumeSpike()
    firing, _ = run([50] * 5, rule, state=steady, first=3 * DAY)
    assert firing.firing
    state, decision = observe(firing, rule, T0 + (3 * DAY + 60) * MINUTE, 10)
    assert decision.transition == "resolve" and not state.firing


def test_a_long_silence_is_replayed_for_a_week_at_most(steady):
    later, decision = observe(steady, VolumeSpike(), T0 + (3 * DAY + 100 * DAY) * MINUTE, 0)
    assert later.closed - steady.closed == MAX_GAP_INTERVALS + 1
    assert later.last_start == T0 + (103 * DAY) * MINUTE
    assert later.baseline.level < 0.01 and decision.transition is None


def test_a_redelivered_interval_changes_nothing():
    state, _ = run([5] * 30, VolumeSpike())
    again, decision = observe(state, VolumeSpike(), T0 + 29 * MINUTE, 500)
    assert again == state and decision.transition is None
    earlier, _ = observe(state, VolumeSpike(), T0 + 3 * MINUTE, 500)
    assert earlier == state


def test_bad_input_is_refused():
    state, _ = run([5] * 3, VolumeSpike())
    with pytest.raises(ValueError, match="whole number"):
        observe(state, VolumeSpike(), T0 + 3 * MINUTE + timedelta(seconds=30), 5)
    with pytest.raises(ValueError, match="time zone"):
        observe(state, VolumeSpike(), datetime(2026, 3, 2, 0, 3), 5)
    with pytest.raises(ValueError, match="300 s"):
        observe(state, VolumeSpike(), T0 + 5 * MINUTE, 5, interval_s=300)
    with pytest.raises(ValueError, match=">= 0"):
        observe(state, VolumeSpike(), T0 + 3 * MINUTE, -1)


def test_the_state_is_small_json_whatever_the_length_of_the_series(counts_factory):
    state, _ = run(counts_factory(50, 3 * DAY), VolumeSpike())
    text = state.model_dump_json()
    assert len(text) < 2000
    assert SpikeState.model_validate_json(text) == state
    # and the state that came back from the changelog goes on exactly as the one that stayed in memory
    after, decision = observe(state, VolumeSpike(), T0 + 3 * DAY * MINUTE, 400)
    restored, decision_restored = observe(
        SpikeState.model_validate_json(text), VolumeSpike(), T0 + 3 * DAY * MINUTE, 400
    )
    assert restored == after and decision_restored == decision


def test_a_decision_offset_from_utc_is_the_same_interval():
    state, _ = run([5] * 3, VolumeSpike())
    local = (T0 + 3 * MINUTE).astimezone(__import__("datetime").timezone(timedelta(hours=1)))
    moved, _ = observe(state, VolumeSpike(), local, 5)
    assert moved.last_start == T0 + 3 * MINUTE


# ---- peek ------------------------------------------------------------------------------------------------------


def test_peek_fires_as_soon_as_the_open_minute_crosses(steady):
    state, _ = run([50, 50], VolumeSpike(), state=steady, first=3 * DAY)
    at = T0 + (3 * DAY + 2) * MINUTE
    assert peek(state, VolumeSpike(), at, 25).transition is None
    crossing = peek(state, VolumeSpike(), at, 30)
    assert crossing.transition == "fire" and crossing.value == 200 and crossing.score == pytest.approx(5.3, abs=0.05)


def test_peek_never_resolves_and_never_fires_twice(steady):
    firing, _ = run([50] * 5 + [10] * 18, VolumeSpike(), state=steady, first=3 * DAY)
    assert firing.firing and firing.calm == 9  # one more calm minute would resolve it
    at = T0 + (3 * DAY + 23) * MINUTE
    assert peek(firing, VolumeSpike(), at, 0) == peek(firing, VolumeSpike(), at, 0)
    assert peek(firing, VolumeSpike(), at, 0).transition is None and peek(firing, VolumeSpike(), at, 0).firing
    assert peek(firing, VolumeSpike(), at, 500).transition is None
    assert observe(firing, VolumeSpike(), at, 0)[1].transition == "resolve"


rules = st.builds(
    VolumeSpike,
    window_minutes=st.integers(1, 5),
    threshold=st.floats(2.5, 6),
    ratio=st.floats(1, 3),
    min_count=st.integers(1, 30),
    warmup_minutes=st.integers(0, 10),
    resolve_minutes=st.integers(1, 3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=rules,
    history=st.lists(st.integers(0, 30), min_size=0, max_size=40),
    gap=st.integers(0, 3),
    partial=st.integers(0, 200),
    more=st.integers(0, 200),
)
def test_if_peek_fires_then_observe_with_at_least_that_value_fires(rule, history, gap, partial, more):
    state, _ = run(history, rule) if history else (None, [])
    at = T0 + (len(history) + gap) * MINUTE
    peeked = peek(state, rule, at, partial)
    _, closed = observe(state, rule, at, partial + more)
    if peeked.transition == "fire":
        assert closed.transition == "fire"
    assert peeked.transition != "resolve"
    assert closed.score >= peeked.score  # the expectation does not depend on the newest count


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 20)), min_size=1, max_size=40),
    partial=st.tuples(st.integers(0, 60), st.integers(0, 60)),
    more_negative=st.integers(0, 100),
    min_share=st.floats(0, 1),
)
def test_negative_surge_peek_agrees_with_observe_when_the_new_posts_are_negative(
    history, partial, more_negative, min_share
):
    rule = NegativeSurge(window_minutes=3, warmup_minutes=0, min_count=5, min_share=min_share)
    negatives = [n for n, _ in history]
    state, _ = run(negatives, rule, totals=[n + other for n, other in history])
    at = T0 + len(history) * MINUTE
    negative, other = partial
    peeked = peek(state, rule, at, negative, negative + other)
    _, closed = observe(state, rule, at, negative + more_negative, negative + other + more_negative)
    if peeked.transition == "fire":
        assert closed.transition == "fire"


@settings(max_examples=100, deadline=None)
@given(counts=st.lists(st.integers(0, 50), min_size=1, max_size=60), cut=st.integers(0, 60))
def test_decisions_are_causal(counts, cut):
    """What the detector decides at an interval depends only on it and earlier ones (a backtest = live)."""
    rule = VolumeSpike(warmup_minutes=5, min_count=5, window_minutes=3)
    _, whole = run(counts, rule)
    _, prefix = run(counts[:cut], rule)
    assert whole[: len(prefix)] == prefix


# ---- share of voice --------------------------------------------------------------------------------------------


def run_share(pairs, rule: ShareOfVoice, state: ShareState | None = None, first: int = 0):
    decisions = []
    for i, (brand, total) in enumerate(pairs):
        state, decision = observe_share(state, rule, T0 + (first + i) * MINUTE, brand, total)
        decisions.append(decision)
    return state, decisions


@pytest.fixture(scope="module")
def half_of_voice() -> ShareState:
    """A day of 5 posts about the brand out of 10 about it and its competitors, every minute."""
    state, _ = run_share([(5, 10)] * DAY, ShareOfVoice())
    return state


def test_a_competitors_crisis_moves_the_share_of_voice(half_of_voice):
    assert half_of_voice.usual == pytest.approx(0.5)
    _, decisions = run_share([(5, 30)] * 120 + [(5, 10)] * 120, ShareOfVoice(), state=half_of_voice, first=DAY)
    changes = [i for i, d in enumerate(decisions) if d.transition]
    # the hour's share is back within 0.1 of the usual (~0.46) about 50 minutes after the crisis; 30 minutes on:
    assert changes[0] == 19 and 180 < changes[1] < 210 and len(changes) == 2
    fire = decisions[19]
    assert fire.value == pytest.approx(0.3) and fire.baseline == pytest.approx(0.5) and fire.score < -12
    assert decisions[7].score < -4 and not decisions[7].firing  # significant, but a move of 0.11 < delta
    assert all(d.firing for d in decisions[19:120])  # not absorbed within the two hours


def test_the_share_rising_fires_too_and_min_posts_holds_back_small_windows(half_of_voice):
    _, decisions = run_share([(9, 10)] * 60, ShareOfVoice(), state=half_of_voice, first=DAY)
    assert decisions[next(i for i, d in enumerate(decisions) if d.transition == "fire")].score > 4
    _, decisions = run_share([(9, 10)] * 60, ShareOfVoice(min_posts=1000), state=half_of_voice, first=DAY)
    assert not any(d.transition for d in decisions)


def test_a_calm_share_with_binomial_noise_fires_nothing():
    rng = random.Random(5)
    pairs = []
    for i in range(3 * DAY):
        total = poisson(rng, day_night(3)(i))
        pairs.append((sum(rng.random() < 0.3 for _ in range(total)), total))
    _, decisions = run_share(pairs, ShareOfVoice())
    assert not any(d.transition for d in decisions)


def test_share_state_is_small_json_and_edges_are_refused(half_of_voice):
    assert len(half_of_voice.model_dump_json()) < 2000
    assert ShareState.model_validate_json(half_of_voice.model_dump_json()) == half_of_voice
    with pytest.raises(ValueError, match="brand <= total"):
        observe_share(half_of_voice, ShareOfVoice(), T0 + DAY * MINUTE, 11, 10)
    again, decision = observe_share(half_of_voice, ShareOfVoice(), T0 + (DAY - 1) * MINUTE, 0, 100)
    assert again == half_of_voice and decision.transition is None


# ---- fires_at: the count at which peek fires, for the live engine's fast path ---------------------------------


def test_fires_at_is_the_count_that_peek_needs(steady):
    state, _ = run([50, 50], VolumeSpike(), state=steady, first=3 * DAY)
    at = T0 + (3 * DAY + 2) * MINUTE
    assert fires_at(state, VolumeSpike(), at) == pytest.approx(30)  # 2x the baseline of 100
    assert fires_at(state, VolumeSpike(ratio=1), at) == pytest.approx(0.44, abs=0.01)  # a score of 4
    firing, _ = run([50] * 3, VolumeSpike(), state=steady, first=3 * DAY)
    assert fires_at(firing, VolumeSpike(), at + MINUTE) == math.inf
    assert fires_at(None, VolumeSpike(), T0) == math.inf  # not warm


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rules, history=st.lists(st.integers(0, 30), min_size=0, max_size=40), gap=st.integers(0, 3))
# the missing minute, closed as zero, fires (the 4 is still in the 2-minute window); the open minute then only
# has to keep the score above resolve_threshold (2.0), not reach threshold (2.5)
@example(
    rule=VolumeSpike(
        window_minutes=2,
        threshold=2.5,
        ratio=1.0,
        min_count=1,
        warmup_minutes=0,
        resolve_threshold=2.0,
        resolve_minutes=1,
    ),
    history=[0, 4],
    gap=1,
)
def test_peek_fires_exactly_from_fires_at_on(rule, history, gap):
    state, _ = run(history, rule) if history else (None, [])
    at = T0 + (len(history) + gap) * MINUTE
    bound = fires_at(state, rule, at)
    if math.isfinite(bound):
        assert peek(state, rule, at, bound).transition == "fire"
        assert peek(state, rule, at, bound + 7).transition == "fire"
        if bound > 1e-3:
            assert peek(state, rule, at, bound * (1 - 1e-6) - 1e-6).transition is None
    else:
        assert peek(state, rule, at, 10**9).transition is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 20)), min_size=1, max_size=30),
    total=st.integers(0, 80),
    min_share=st.floats(0, 1),
)
def test_negative_surge_fires_at_holds_for_the_given_total(history, total, min_share):
    rule = NegativeSurge(window_minutes=3, warmup_minutes=0, min_count=5, min_share=min_share)
    state, _ = run([n for n, _ in history], rule, totals=[n + other for n, other in history])
    at = T0 + len(history) * MINUTE
    bound = fires_at(state, rule, at, total)
    if math.isfinite(bound):
        assert bound <= total + 1e-6
        assert peek(state, rule, at, min(bound, total), total).transition == "fire"
    else:
        assert peek(state, rule, at, total, total).transition is None
