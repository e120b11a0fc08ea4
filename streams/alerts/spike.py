"""The volume spike and negative surge detectors: causal state machines over a regular series of counts.

One step closes one interval (a minute live, any regular interval in a backtest). The detector keeps the last
`window_minutes` of counts (rounded up to whole intervals) and compares their sum with what the learned baseline
(`streams.alerts.baseline`) expected of those same intervals, time of day included.

The baseline learns a count only when it leaves the window, so the window is always judged against history that
came strictly before it, and a spike is not learned at all while it is in the window (after that, it is learned
clipped and slowly: see `baseline.learn`). A useful side effect: what the baseline expects of the window does not
depend on the count of the newest interval, so the decision grows monotonically with that count, which is what
makes `peek` (firing on the still-open interval) agree with `observe`.

It fires when, all at once:
- the score (`baseline.score`: standard deviations on a variance-stabilised scale) is >= `threshold`,
- the window holds >= `ratio` times its expectation and >= `min_count` posts,
- (negative surge) >= `min_share` of the window's posts are negative,
- and it is warm: `warmup_minutes` of history were closed and something was learned.
It resolves after `resolve_minutes` (in whole intervals) of consecutive closed intervals whose score is below
`resolve_threshold`.

Scenario (1-minute intervals, shipped defaults): a brand with a steady 10 posts/min for three days, then 50/min
-> the 10-minute window holds 100 posts against 100 expected (score 0); in the spike's first minute 140 against
100 (score 2.5), second 180 (score 4.4 but ratio 1.8 < 2), third 220 (score 6.1, ratio 2.2, >= 10 posts):
"fire". The 50/min continue for an hour and it keeps firing (the baseline, learning clipped and slowly, has
reached 146 by then: score 9.7); when the spike ends, the window falls back and, after ten closed minutes with
a score under 2, "resolve".
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.alert_config import NegativeSurge, VolumeSpike
from streams.alerts.baseline import Baseline, dispersion, expected, learn, score

#: overdispersion of a window's count relative to its expectation (the baseline's relative error)
DISPERSION = 0.1


class Decision(BaseModel):
    """What one step decided, with its evidence."""

    model_config = ConfigDict(frozen=True)

    transition: Literal["fire", "resolve"] | None = None
    #: what was measured in the window: posts (volume spike) or negative posts (negative surge)
    value: float
    #: what the baseline expected of the same window
    baseline: float
    #: how far beyond the baseline: standard deviations on the variance-stabilised scale (`baseline.score`)
    score: float
    #: the score at which it fires
    threshold: float
    #: the detector's state after this step
    firing: bool
    warm: bool
    #: negative surge: the window's share of negative posts (None for a volume spike)
    share: float | None = None


class SpikeState(BaseModel):
    """One detector's memory for one brand: bounded (the window's counts, 24 slots, a few numbers), JSON-able.

    `recent` holds the counts of the last closed intervals, oldest first, at most one window long;
    `recent_totals` the matching total posts (negative surge only)."""

    model_config = ConfigDict(frozen=True)

    interval_s: int
    last_start: datetime | None = None
    recent: tuple[float, ...] = ()
    recent_totals: tuple[float, ...] | None = None
    baseline: Baseline
    closed: int = 0
    firing: bool = False
    calm: int = 0

    @classmethod
    def empty(cls, interval_s: int, with_totals: bool) -> SpikeState:
        totals = () if with_totals else None
        return cls(interval_s=interval_s, baseline=Baseline(interval_s=interval_s), recent_totals=totals)


def intervals(minutes: float, interval_s: int) -> int:
    """Minutes as whole intervals, rounded up: (10, 60) -> 10; (10, 300) -> 2; (7, 300) -> 2; (1, 3600) -> 1."""
    return max(1, math.ceil(minutes * 60 / interval_s - 1e-9))


def _is_negative(settings: VolumeSpike) -> bool:
    return isinstance(settings, NegativeSurge)


def _close(
    state: SpikeState, settings: VolumeSpike, start: datetime, value: float, total: float | None
) -> tuple[SpikeState, Decision]:
    """Close exactly one interval (the one after `state.last_start`), learn what leaves the window, decide."""
    interval = timedelta(seconds=state.interval_s)
    window = intervals(settings.window_minutes, state.interval_s)
    recent = (*state.recent, float(value))
    totals = None if state.recent_totals is None else (*state.recent_totals, float(total or 0.0))
    baseline = state.baseline
    while len(recent) > window:
        leaving = start - interval * (len(recent) - 1)
        baseline = learn(baseline, leaving, recent[0], DISPERSION, firing=state.firing)
        recent = recent[1:]
        totals = None if totals is None else totals[1:]
    observed = sum(recent)
    expectation = sum(expected(baseline, start - interval * i) for i in range(len(recent)))
    how_far = score(observed, expectation, dispersion(baseline, DISPERSION))
    closed = state.closed + 1
    warm = baseline.learned > 0 and closed * state.interval_s >= settings.warmup_minutes * 60
    share = None
    if totals is not None:
        posts = sum(totals)
        share = observed / posts if posts > 0 else 0.0
    transition = None
    firing, calm = state.firing, state.calm
    if not firing:
        if warm and _fires(settings, observed, expectation, how_far, share):
            transition, firing, calm = "fire", True, 0
    else:
        calm = calm + 1 if how_far < settings.resolve_threshold else 0
        if calm >= intervals(settings.resolve_minutes, state.interval_s):
            transition, firing, calm = "resolve", False, 0
    new_state = SpikeState.model_construct(
        interval_s=state.interval_s,
        last_start=start,
        recent=recent,
        recent_totals=totals,
        baseline=baseline,
        closed=closed,
        firing=firing,
        calm=calm,
    )
    decision = Decision.model_construct(
        transition=transition,
        value=observed,
        baseline=expectation,
        score=how_far,
        threshold=settings.threshold,
        firing=firing,
        warm=warm,
        share=share,
    )
    return new_state, decision


def _fires(settings: VolumeSpike, observed: float, expectation: float, how_far: float, share: float | None) -> bool:
    if how_far < settings.threshold or observed < settings.min_count or observed < settings.ratio * expectation:
        return False
    return share is None or share >= settings.min_share  # type: ignore[attr-defined]


def _prepare(
    state: SpikeState | None,
    settings: VolumeSpike,
    start: datetime,
    value: float,
    total: float | None,
    interval_s: int,
) -> SpikeState:
    if start.tzinfo is None:
        raise ValueError(f"interval start {start.isoformat()} has no time zone (give UTC)")
    if not value >= 0:
        raise ValueError(f"a count of {value} posts: counts are >= 0")
    negative = _is_negative(settings)
    if negative and total is None:
        raise ValueError("negative_surge needs the total posts of the interval as well as the negative ones")
    if negative and not total >= value:
        raise ValueError(f"{value} negative posts of {total} posts: the total must be at least the negatives")
    if state is None:
        return SpikeState.empty(interval_s, with_totals=negative)
    if state.interval_s != interval_s:
        raise ValueError(f"the state was learned on {state.interval_s} s intervals, not {interval_s} s")
    if negative != (state.recent_totals is not None):
        raise ValueError("the state belongs to the other rule (volume_spike vs negative_surge)")
    return state


def _missing(state: SpikeState, start: datetime) -> int | None:
    """How many empty intervals lie between the last closed one and `start`; None if `start` is already closed."""
    if state.last_start is None:
        return 0
    gap = (start - state.last_start).total_seconds()
    if gap <= 0:
        return None
    steps, rest = divmod(gap, state.interval_s)
    if rest:
        raise ValueError(
            f"interval start {start.isoformat()} is not a whole number of {state.interval_s} s intervals after "
            f"{state.last_start.isoformat()}"
        )
    return int(steps) - 1


def _advance(
    state: SpikeState, settings: VolumeSpike, start: datetime, value: float, total: float | None
) -> tuple[SpikeState, Decision] | None:
    missing = _missing(state, start)
    if missing is None:
        return None
    was_firing = state.firing
    interval = timedelta(seconds=state.interval_s)
    for k in range(missing, 0, -1):
        state, _ = _close(state, settings, start - interval * k, 0.0, 0.0 if total is not None else None)
    state, decision = _close(state, settings, start, value, total)
    if decision.transition is None and state.firing != was_firing:
        # a gap resolved the alert (zeros cannot make it fire): report the net change on the step given back
        decision = decision.model_copy(update={"transition": "resolve" if was_firing else "fire"})
    return state, decision


def _unchanged(state: SpikeState, settings: VolumeSpike) -> Decision:
    return Decision(
        value=sum(state.recent),
        baseline=0.0,
        score=0.0,
        threshold=settings.threshold,
        firing=state.firing,
        warm=False,
    )


def observe(
    state: SpikeState | None,
    settings: VolumeSpike | NegativeSurge,
    start: datetime,
    value: float,
    total: float | None = None,
    interval_s: int = 60,
) -> tuple[SpikeState, Decision]:
    """Close one interval that began at `start` with `value` (negative surge: `value` negatives of `total`
    posts). Learns from it, then decides. Intervals must come in order; a gap (a missing interval) counts as
    zeros (the live engine passes every interval, also empty ones).

    An interval at or before the last closed one (a redelivery after a crash) changes nothing: the state comes
    back as it was, with a decision without transition. A start that is not a whole number of intervals after
    the last one, a start without a time zone, or a state of another interval length raises ValueError.

    Scenario: see the module docstring (10/min for three days, then 50/min -> "fire" at the third minute of
    the spike with value 220, baseline 100, score 6.1)."""
    state = _prepare(state, settings, start, value, total, interval_s)
    advanced = _advance(state, settings, start.astimezone(UTC), value, total)
    if advanced is None:
        return state, _unchanged(state, settings)
    return advanced


def peek(
    state: SpikeState | None,
    settings: VolumeSpike | NegativeSurge,
    start: datetime,
    partial_value: float,
    partial_total: float | None = None,
    interval_s: int = 60,
) -> Decision:
    """Would the still-open interval beginning at `start`, with what it holds so far, make the detector fire
    now? Never changes the state, never resolves. The live engine calls it on every update of the current minute
    so that an alert fires within a second of the post that crosses the threshold rather than when the minute
    closes. Counts only grow within an interval, so if `peek` fires then `observe` of the same interval, closed
    with at least that value, fires too (negative surge: provided the posts added since are negative at least
    `min_share` of the time, or the window's share stays above `min_share` otherwise: non-negative posts can
    only dilute the share).

    Scenario: the module's brand at 10/min, two minutes into the 50/min spike; the third minute holds 30 posts
    so far -> the window 200 against 100, score 5.3, ratio 2.0: transition "fire". With 25 so far (195, ratio
    1.95) -> no transition. While the detector already fires -> never a transition."""
    state = _prepare(state, settings, start, partial_value, partial_total, interval_s)
    advanced = _advance(state, settings, start.astimezone(UTC), partial_value, partial_total)
    if advanced is None:
        return _unchanged(state, settings)
    _, decision = advanced
    if state.firing:
        return decision.model_copy(update={"transition": None, "firing": True})
    if decision.transition != "fire":
        return decision.model_copy(update={"transition": None, "firing": False})
    return decision
