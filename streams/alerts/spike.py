"""The volume spike, negative surge and share-of-voice detectors: causal state machines over a regular series of
counts (the share of voice is at the end of the module).

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
reached 128 in the last minute: 500 against 128, score 11.5); when the spike ends, the window falls back and,
after ten closed minutes with a score under 2 (the first at minute 68), "resolve" at minute 77.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.alert_config import NegativeSurge, ShareOfVoice, VolumeSpike
from streams.alerts.baseline import (
    FIRING_SLOWDOWN,
    Baseline,
    dispersion_of,
    expected,
    learn,
    score,
    stabilised,
    unstabilised,
)

#: overdispersion of a window's count relative to its expectation (the baseline's relative error)
DISPERSION = 0.1
#: a gap longer than this many intervals is filled with only its last ones (a week of minutes): by then the level
#: has long decayed to nothing, and a worker must not spend seconds replaying months of empty minutes
MAX_GAP_INTERVALS = 7 * 1440


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
    #: the window's share: of negative posts (negative surge), of the brand (share of voice); None for a volume spike
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


def hysteresis(firing: bool, calm: int, fires: bool, quiet: bool, resolve_after: int) -> tuple[str | None, bool, int]:
    """One closed interval of a rule's fire/resolve cycle: (transition, firing, calm intervals in a row).

    Scenario: not firing and `fires` -> ("fire", True, 0); not firing otherwise -> (None, False, calm). Firing
    and `quiet` -> calm + 1, and at `resolve_after` calm intervals in a row -> ("resolve", False, 0); firing and
    not quiet -> calm back to 0 (a surge that flares again is not resolved in the middle of it)."""
    if not firing:
        return ("fire", True, 0) if fires else (None, False, calm)
    calm = calm + 1 if quiet else 0
    return ("resolve", False, 0) if calm >= resolve_after else (None, True, calm)


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
    how_far = score(observed, expectation, dispersion_of(baseline, DISPERSION))
    closed = state.closed + 1
    warm = baseline.learned > 0 and closed * state.interval_s >= settings.warmup_minutes * 60
    share = None
    if totals is not None:
        posts = sum(totals)
        share = observed / posts if posts > 0 else 0.0
    transition, firing, calm = hysteresis(
        state.firing,
        state.calm,
        fires=warm and _fires(settings, observed, expectation, how_far, share),
        quiet=how_far < settings.resolve_threshold,
        resolve_after=intervals(settings.resolve_minutes, state.interval_s),
    )
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


def _missing(state: SpikeState | ShareState, start: datetime) -> int | None:
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
    for k in range(min(missing, MAX_GAP_INTERVALS), 0, -1):
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
    zeros (the live engine passes every interval, also empty ones); of a gap longer than `MAX_GAP_INTERVALS`
    only the last ones are replayed. If the gap resolved a firing alert, the decision says "resolve".

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


def fires_at(
    state: SpikeState | None,
    settings: VolumeSpike | NegativeSurge,
    start: datetime,
    partial_total: float | None = None,
    interval_s: int = 60,
) -> float:
    """The smallest count of the still-open interval beginning at `start` with which `peek` fires; math.inf when
    none would (already firing, not warm, or a negative share that cannot reach `min_share`).

    `peek` grows monotonically with the count, so the live engine can compute this once per interval (and per
    batch of totals, for a negative surge) and compare each new count with a number instead of calling `peek`
    for every post. For a negative surge it holds for the given `partial_total`; a larger total needs a new call.

    Scenario: the module's brand two minutes into the 50/min spike -> 30.0: the window holds 170 without the open
    minute; a score of 4 needs 170.4, `ratio` 2 needs 200. Once it fires -> math.inf."""
    state = _prepare(state, settings, start, 0.0, partial_total, interval_s)
    advanced = _advance(state, settings, start.astimezone(UTC), 0.0, partial_total)
    if advanced is None or state.firing:
        return math.inf
    after, decision = advanced
    if decision.transition == "fire":
        return 0.0
    if not decision.warm:
        return math.inf
    expectation, before = decision.baseline, decision.value
    spread_of = dispersion_of(after.baseline, DISPERSION)
    needed = max(
        unstabilised(stabilised(expectation, spread_of) + settings.threshold, spread_of),
        settings.ratio * expectation,
        float(settings.min_count),
    )
    if after.recent_totals is not None:
        posts = sum(after.recent_totals)
        needed = max(needed, settings.min_share * posts)  # type: ignore[attr-defined]
        if needed > before + (partial_total or 0.0):
            return math.inf  # more negatives than the posts so far
    count = max(needed - before, 0.0)

    def fires(candidate: float) -> bool:
        return peek(state, settings, start, candidate, partial_total, interval_s).transition == "fire"

    # rounding: the smallest count at or above the bound that `peek` agrees fires
    for nudge in (0.0, 1e-9, 1e-6):
        candidate = count * (1 + nudge) + nudge
        if partial_total is not None and after.recent_totals is not None:
            candidate = min(candidate, partial_total)
        if fires(candidate):
            break
    else:
        return math.inf
    if candidate > 0 and fires(candidate * (1 - 1e-6) - 1e-6):
        # A gap closed as zeros fired the detector, and only the open interval's count decides whether it calms
        # down again: that takes `resolve_threshold`, not `threshold`. `peek` is monotone in the count: bisect.
        low, high = 0.0, candidate
        for _ in range(80):
            middle = (low + high) / 2
            low, high = (low, middle) if fires(middle) else (middle, high)
        candidate = high
    return candidate


# ---- share of voice --------------------------------------------------------------------------------------------

#: time constant of the usual share, in hours of learned intervals (four times longer while the alert fires)
SHARE_LEARN_HOURS = 6.0


class ShareState(BaseModel):
    """The share-of-voice detector's memory for one brand: the window's brand and total posts, the usual share as
    two exponentially weighted sums (brand posts, all posts), and the alert state."""

    model_config = ConfigDict(frozen=True)

    interval_s: int
    last_start: datetime | None = None
    recent: tuple[float, ...] = ()
    recent_totals: tuple[float, ...] = ()
    usual_brand: float = 0.0
    usual_total: float = 0.0
    learned: int = 0
    closed: int = 0
    firing: bool = False
    calm: int = 0

    @property
    def usual(self) -> float | None:
        return self.usual_brand / self.usual_total if self.usual_total > 0 else None


def _learn_share(
    interval_s: int, learned: int, usual: tuple[float, float], brand: float, total: float, firing: bool
) -> tuple[float, float]:
    """One step of the usual share's two sums (brand posts, all posts); the first hours are plain averages."""
    weight = max(interval_s / (SHARE_LEARN_HOURS * 3600), 1 / (learned + 1))
    if firing:
        weight /= FIRING_SLOWDOWN
    return usual[0] + weight * (brand - usual[0]), usual[1] + weight * (total - usual[1])


def observe_share(
    state: ShareState | None, settings: ShareOfVoice, start: datetime, brand: float, total: float, interval_s: int = 60
) -> tuple[ShareState, Decision]:
    """Close one interval of `brand` posts about the brand out of `total` posts about it and its competitors.

    The window's share (brand / total over the last `window_minutes`) is compared with the usual share, learned
    slowly (weighted by volume, about `SHARE_LEARN_HOURS` of intervals that left the window). It fires when the
    share moved at least `delta` either way, by at least `threshold` binomial standard deviations
    (sqrt(usual * (1 - usual) / posts)), with at least `min_posts` posts in the window, after `warmup_minutes`;
    it resolves after `resolve_minutes` of closed intervals in a row whose share is within `delta / 2` of the
    usual one. value: the window's share; baseline: the usual share; score: the move in standard deviations
    (negative when the share fell).

    Scenario (1-minute intervals, defaults): a brand with 5 of 10 posts a minute for a day (usual share 0.5), then
    a competitor's crisis: 5 of 30 a minute -> after 8 minutes the hour holds 300 of 760 posts, a share of 0.39
    (score -5.8, but a move of only 0.11); in the 20th minute 300 of 1,000 posts, 0.30 (move -0.2, score -12.6,
    >= 50 posts): "fire".

    Gaps count as zeros and redelivered intervals change nothing, as in `observe`. There is no `peek`: a share
    can move either way as the open minute fills, so only closed intervals decide."""
    if start.tzinfo is None:
        raise ValueError(f"interval start {start.isoformat()} has no time zone (give UTC)")
    if not 0 <= brand <= total:
        raise ValueError(f"{brand} brand posts of {total} posts: need 0 <= brand <= total")
    if state is None:
        state = ShareState(interval_s=interval_s)
    elif state.interval_s != interval_s:
        raise ValueError(f"the state was learned on {state.interval_s} s intervals, not {interval_s} s")
    start = start.astimezone(UTC)
    missing = _missing(state, start)
    if missing is None:
        usual = state.usual or 0.0
        unchanged = Decision(
            value=usual, baseline=usual, score=0.0, threshold=settings.threshold, firing=state.firing, warm=False
        )
        return state, unchanged
    was_firing = state.firing
    interval = timedelta(seconds=interval_s)
    for k in range(min(missing, MAX_GAP_INTERVALS), 0, -1):
        state, _ = _close_share(state, settings, start - interval * k, 0.0, 0.0)
    state, decision = _close_share(state, settings, start, brand, total)
    if decision.transition is None and state.firing != was_firing:
        decision = decision.model_copy(update={"transition": "resolve" if was_firing else "fire"})
    return state, decision


def _close_share(
    state: ShareState, settings: ShareOfVoice, start: datetime, brand: float, total: float
) -> tuple[ShareState, Decision]:
    window = intervals(settings.window_minutes, state.interval_s)
    recent, totals = (*state.recent, float(brand)), (*state.recent_totals, float(total))
    usual_brand, usual_total, learned = state.usual_brand, state.usual_total, state.learned
    while len(recent) > window:
        usual_brand, usual_total = _learn_share(
            state.interval_s, learned, (usual_brand, usual_total), recent[0], totals[0], state.firing
        )
        learned += 1
        recent, totals = recent[1:], totals[1:]
    posts = sum(totals)
    share = sum(recent) / posts if posts > 0 else 0.0
    usual = usual_brand / usual_total if usual_total > 0 else None
    closed = state.closed + 1
    warm = usual is not None and closed * state.interval_s >= settings.warmup_minutes * 60
    move = share - usual if usual is not None and posts > 0 else 0.0
    if usual is not None and posts > 0:
        bounded = min(max(usual, 1 / (posts + 1)), 1 - 1 / (posts + 1))
        how_far = move / math.sqrt(bounded * (1 - bounded) / posts)
    else:
        how_far = 0.0
    transition, firing, calm = hysteresis(
        state.firing,
        state.calm,
        fires=warm
        and posts >= settings.min_posts
        and abs(move) >= settings.delta
        and abs(how_far) >= settings.threshold,
        quiet=abs(move) < settings.delta / 2,
        resolve_after=intervals(settings.resolve_minutes, state.interval_s),
    )
    new_state = ShareState.model_construct(
        interval_s=state.interval_s,
        last_start=start,
        recent=recent,
        recent_totals=totals,
        usual_brand=usual_brand,
        usual_total=usual_total,
        learned=learned,
        closed=closed,
        firing=firing,
        calm=calm,
    )
    decision = Decision.model_construct(
        transition=transition,
        value=share,
        baseline=usual if usual is not None else 0.0,
        score=how_far,
        threshold=settings.threshold,
        firing=firing,
        warm=warm,
        share=share,
    )
    return new_state, decision
