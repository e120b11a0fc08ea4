"""What a brand's count series is expected to hold: a learned level times a learned time-of-day shape, and how far
an observed window is beyond it.

The expectation of one interval that begins at `t` is `level * shape(t)`:

- `shape(t)` is the day/night rhythm: 24 hour-of-day slots (UTC), each an exponentially weighted mean count per
  interval of that hour with a memory of `PROFILE_DAYS` days, divided by the mean of the 24 slots and
  interpolated linearly between slot centres (so the expectation has no step at the full hour), and shrunk
  towards flat when the slots hold few posts. It is flat (1) during the series' first day, blends in over the
  second day and is fully in force from the third.
- `level` is the rhythm-free rate: the ratio of two exponentially weighted sums over the last hour or so of
  learned intervals, `sum(count) / sum(shape)` (the Poisson maximum likelihood of the level for a known shape;
  unlike the mean of `count / shape` it does not blow up a night-time post into a huge deseasonalised value).
  During the first day the shape is flat and the level alone follows the rhythm with about an hour of lag.

Learning is robust: a count is learned at most `CLIP_SIGMAS` standard deviations (at least one post per sigma)
above what was expected of it, and while an alert fires everything learns `FIRING_SLOWDOWN` times slower, so a
spike does not become the new normal within minutes, while a lasting change of level is absorbed over hours.

Weekday rhythm: there is no day-of-week profile (it would take weeks to learn); a quieter weekend is followed by
the level within an hour or two, well inside the detectors' ratio requirement.

`score` compares a window's observed sum with its expected sum on a variance-stabilised scale that respects
Poisson noise at low counts and allows for overdispersion (the baseline's own error) at high counts.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict

SLOTS = 24
#: time constant of the level (minutes of learned history)
LEVEL_MINUTES = 60.0
#: memory of each hour-of-day slot, in days
PROFILE_DAYS = 3.0
#: robust learning: a count is learned at most this many standard deviations above its expectation
CLIP_SIGMAS = 3.0
#: while an alert fires, the level and the hour-of-day slots learn this many times more slowly
FIRING_SLOWDOWN = 4.0
#: shape is flat for the first day of history and fully learned from this many hours on (linear in between)
PROFILE_FROM_HOURS = 24.0
PROFILE_FULL_HOURS = 48.0
#: the day shape is shrunk towards flat as if every hour had also held this many posts over the slots' memory: a
#: slot of a handful of posts is noise as much as rhythm (more shrinkage biases a quiet brand's night upwards and,
#: through the level, its morning downwards)
SHAPE_PRIOR_POSTS = 2.0
#: no hour is expected to be busier than this many times the day's mean (a 10x day/night rhythm peaks at 1.8): a
#: series silent for days whose first busy hour arrives must not read it as "this hour is always busy"
SHAPE_MAX = 4.0
#: the baseline's relative error before the day shape is learned, as a multiple of the settled one
UNSETTLED_DISPERSION = 2.0
_DAY_S = 86400


class Baseline(BaseModel):
    """The learned expectation of one count series (about 0.7 KB of JSON).

    `level_sum` and `shape_sum` are the exponentially weighted sums of learned counts and of the shape at
    their times; `level = level_sum / shape_sum`. `slots[h]` is the mean count per interval in UTC hour h,
    `slot_learned[h]` how many intervals it has learned (the first ones are plain averages)."""

    model_config = ConfigDict(frozen=True)

    interval_s: int
    learned: int = 0
    level_sum: float = 0.0
    shape_sum: float = 0.0
    slots: tuple[float, ...] = (0.0,) * SLOTS
    slot_learned: tuple[int, ...] = (0,) * SLOTS

    @property
    def level(self) -> float:
        return self.level_sum / self.shape_sum if self.shape_sum > 0 else 0.0

    @property
    def learned_hours(self) -> float:
        return self.learned * self.interval_s / 3600


def _slot_position(t: datetime, interval_s: int) -> float:
    """Hours since midnight UTC of the interval's middle, minus half an hour: slot h's centre is at h."""
    seconds = (t.timestamp() + interval_s / 2) % _DAY_S
    return seconds / 3600 - 0.5


def profile_weight(baseline: Baseline) -> float:
    """How far the learned day shape is in force: 0 during the first day of history, 1 from the third."""
    weight = (baseline.learned_hours - PROFILE_FROM_HOURS) / (PROFILE_FULL_HOURS - PROFILE_FROM_HOURS)
    return min(max(weight, 0.0), 1.0)


def dispersion_of(baseline: Baseline, settled: float) -> float:
    """The relative error to allow for in the baseline: `settled` once the day shape is learned, up to
    `UNSETTLED_DISPERSION` times more before (when the level alone has to follow the day/night rhythm and lags
    the morning rise by most of an hour). dispersion_of(first-day baseline, 0.1) = 0.2; from the third day, 0.1."""
    return settled * (1 + (UNSETTLED_DISPERSION - 1) * (1 - profile_weight(baseline)))


def shape(baseline: Baseline, t: datetime) -> float:
    """How busy the interval beginning at `t` is relative to the day's mean, as learned so far.

    Scenario: slots learned over three days of 2 posts/interval from 00:00 to 11:59 UTC and 18 from 12:00 to
    23:59 (mean 10) -> shape at 06:00 is 0.2 and at 18:00 is 1.8 (1.83: the first day's jump at noon was
    learned clipped, as a spike would be); at 11:30 (slot 11's centre) 0.2 still, and at 12:00 halfway between
    slot 11's and slot 12's values. Before 24 hours of history: 1.0 everywhere. The same rhythm at a hundredth
    of the volume (0.02 and 0.18 posts/interval, 3.6 and 32 posts per slot over three days): 0.28 and 1.72,
    as the rhythm of so few posts is uncertain. At most `SHAPE_MAX`."""
    weight = profile_weight(baseline)
    if weight <= 0:
        return 1.0
    position = _slot_position(t, baseline.interval_s)
    low = math.floor(position)
    fraction = position - low
    here = (1 - fraction) * baseline.slots[low % SLOTS] + fraction * baseline.slots[(low + 1) % SLOTS]
    # slot means in posts over a slot's memory, shrunk towards a flat day by SHAPE_PRIOR_POSTS
    memory = PROFILE_DAYS * 3600 / baseline.interval_s
    mean = sum(baseline.slots) / SLOTS
    learned = (here * memory + SHAPE_PRIOR_POSTS) / (mean * memory + SHAPE_PRIOR_POSTS)
    return 1 + weight * (min(learned, SHAPE_MAX) - 1)


def expected(baseline: Baseline, t: datetime) -> float:
    """The expected count of the interval beginning at `t`: level * shape(t); 0.0 before anything is learned."""
    return baseline.level * shape(baseline, t) if baseline.learned else 0.0


def spread(expectation: float, dispersion: float) -> float:
    """The standard deviation of a count expected to be `expectation`: Poisson plus overdispersion,
    sqrt(e + (dispersion * e)^2). spread(100, 0.1) = sqrt(100 + 100) = 14.1; spread(1, 0.1) = 1.005."""
    return math.sqrt(expectation + (dispersion * expectation) ** 2)


def learn(baseline: Baseline, t: datetime, count: float, dispersion: float, firing: bool = False) -> Baseline:
    """Learn the count of the interval beginning at `t` (a closed interval that has left the detector's window).

    Scenario (1-minute intervals, first day, flat shape): a level of 10/min learned over hours; a count of 40
    arrives -> it is learned as 10 + 3 * spread(10, 0.1) = 19.95, and the level moves by (19.95 - 10) / 60 to
    10.17 (an unclipped 40 would have moved it to 10.5). With `firing=True` it (and the hour's slot) moves a
    quarter as far, to about 10.04. A count of 8 is learned as it is (no clipping below): the level goes to about 9.97.

    The first `LEVEL_MINUTES` of intervals are averaged plainly (the weights start at 1/n), so the level is
    usable after a few intervals rather than after an hour."""
    step_level = baseline.interval_s / (LEVEL_MINUTES * 60)
    step_slot = baseline.interval_s / (PROFILE_DAYS * 3600)
    if baseline.learned:
        expectation = expected(baseline, t)
        count = min(count, expectation + CLIP_SIGMAS * max(spread(expectation, dispersion), 1.0))
    weight = max(step_level, 1 / (baseline.learned + 1))
    if firing:
        weight /= FIRING_SLOWDOWN
    here = shape(baseline, t)
    slot = int(_slot_position(t, baseline.interval_s) + 0.5) % SLOTS
    slot_weight = max(step_slot, 1 / (baseline.slot_learned[slot] + 1))
    if firing:
        slot_weight /= FIRING_SLOWDOWN
    slots = list(baseline.slots)
    slots[slot] += slot_weight * (count - slots[slot])
    slot_learned = list(baseline.slot_learned)
    slot_learned[slot] += 1
    return Baseline.model_construct(
        interval_s=baseline.interval_s,
        learned=baseline.learned + 1,
        level_sum=baseline.level_sum + weight * (count - baseline.level_sum),
        shape_sum=baseline.shape_sum + weight * (here - baseline.shape_sum),
        slots=tuple(slots),
        slot_learned=tuple(slot_learned),
    )


def stabilised(count: float, dispersion: float) -> float:
    """The variance-stabilising transform of a count whose variance is c + (dispersion * c)^2:
    (2 / d) * asinh(d * sqrt(c + 3/8)), which is Anscombe's 2 * sqrt(c + 3/8) when d is 0. Differences on this
    scale are in standard deviations whatever the count: Poisson-like when small, relative when large."""
    root = math.sqrt(max(count, 0.0) + 0.375)
    if dispersion <= 0:
        return 2 * root
    return 2 / dispersion * math.asinh(dispersion * root)


def unstabilised(value: float, dispersion: float) -> float:
    """The count whose `stabilised` value is `value` (the inverse; at least 0): unstabilised(stabilised(c, d), d)
    == c for every c >= 0."""
    root = value / 2 if dispersion <= 0 else math.sinh(value * dispersion / 2) / dispersion
    return max(root * root - 0.375, 0.0) if value > 0 else 0.0


def score(observed: float, expectation: float, dispersion: float) -> float:
    """How far `observed` is beyond `expectation`, in standard deviations on the variance-stabilised scale
    (positive above, negative below).

    Scenario (dispersion 0.1): 3 posts against 0.5 -> 1.8 (not a 'z of 50': a Gaussian z would say
    (3 - 0.5) / sqrt(0.5) = 3.5 and grows without bound as the expectation goes to 0); 25 against 5 -> 5.1;
    2,000 against 1,000 -> 6.7 (with dispersion 0 it would be 26: at high counts the score measures the ratio,
    about ln(observed / expected) / dispersion, since the baseline itself is uncertain by some per cent)."""
    return stabilised(observed, dispersion) - stabilised(expectation, dispersion)
