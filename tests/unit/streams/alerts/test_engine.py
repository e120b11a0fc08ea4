"""The alert engine over signals, without a broker: the synth-like incident fires, groups and resolves; a calm
day with a day/night rhythm fires nothing; the log replayed gives the same records; a restart loses nothing."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.alerts import Alert, Incident
from schemas.records import BucketMetrics, KeyPersonHit
from schemas.signals import NotablePost, Signal
from streams.alerts.engine import AlertEngine, amplification, run_log

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def minute_signal(minute: int, posts: int, negative: int = 0, partition: int = 0, offset: int = 0, **extra) -> Signal:
    start = START + timedelta(minutes=minute)
    partial = BucketMetrics(
        brand="nordair",
        bucket_start=start,
        raw_partition=partition,
        posts=posts,
        originals=posts,
        negative=negative,
        neutral=posts - negative,
        unique_authors=posts,
    )
    return Signal(
        raw_partition=partition,
        last_offset=offset,
        watermark_s=int((start + timedelta(seconds=59)).timestamp()),
        partials=(partial,) if posts else (),
        **extra,
    )


def stream(rates: list[tuple[int, int]]) -> list[tuple[int, Signal]]:
    """One signal per minute of (posts, negative) pairs; the offsets count up."""
    return [(i, minute_signal(i, posts, negative, offset=i)) for i, (posts, negative) in enumerate(rates)]


def calm_day(rng: random.Random, minutes: int = 24 * 60, peak: float = 30.0) -> list[tuple[int, int]]:
    out = []
    for m in range(minutes):
        hour = (m / 60) % 24
        mean = peak * (0.55 + 0.45 * math.sin((hour - 8) / 24 * 2 * math.pi))
        posts = _poisson(rng, mean)
        out.append((posts, sum(rng.random() < 0.15 for _ in range(posts))))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def records_of(watch, signals) -> list:
    return list(run_log(watch, signals))


def test_a_calm_day_with_a_day_night_rhythm_fires_nothing(watch_config):
    rng = random.Random(7)
    out = records_of(watch_config, stream(calm_day(rng, 26 * 60)))
    assert out == []


def test_the_incident_fires_groups_into_one_incident_and_resolves(watch_config):
    rng = random.Random(3)
    rates = calm_day(rng, 6 * 60, peak=10) + [(80, 60)] * 15 + calm_day(rng, 120, peak=10)
    signals = stream(rates)
    surge_start = 6 * 60
    person = NotablePost(
        brand="nordair",
        post_id="synth:ingrid",
        raw_offset=surge_start + 2,
        created_at=START + timedelta(minutes=surge_start + 2, seconds=10),
        author_handle="ingrid_news",
        followers=12_000,
        key_people=(KeyPersonHit(handle="ingrid_news", label="journalist", role="author"),),
        compound=-0.7,
        label="negative",
        text="Nordair's outage is spreading",
    )
    offset, sig = signals[surge_start + 2]
    signals[surge_start + 2] = (offset, sig.model_copy(update={"posts": (person,)}))
    out = records_of(watch_config, signals)
    alerts = [r for r in out if isinstance(r, Alert)]
    fired = sorted({a.rule for a in alerts if a.status == "firing"})
    assert fired == ["key_person", "negative_surge", "volume_spike"]
    first_fire = {a.rule: a.starts_at for a in alerts if a.status == "firing"}
    assert first_fire["negative_surge"] < START + timedelta(minutes=surge_start + 5), "within minutes of the surge"
    assert {a.rule for a in alerts if a.status == "resolved"} == set(fired), "every alert resolves after it"
    incidents = [r for r in out if isinstance(r, Incident)]
    assert len({i.id for i in incidents}) == 1, "one incident"
    assert incidents[0].status == "opened" and incidents[-1].status == "resolved"
    surge = next(a for a in alerts if a.rule == "negative_surge")
    assert surge.evidence.value >= surge.evidence.baseline and surge.evidence.buckets
    assert surge.evidence.amplification == "organic"


def test_the_log_gives_the_same_records_every_time_and_after_a_restart(watch_config):
    rng = random.Random(5)
    signals = stream(calm_day(rng, 5 * 60, peak=10) + [(90, 70)] * 10 + [(8, 1)] * 60)
    once = records_of(watch_config, signals)
    assert once == records_of(watch_config, signals)
    cut = len(signals) // 2 + 7
    first = AlertEngine(watch_config)
    out = [r for o, s in signals[:cut] for r in first.apply(s, o)]
    restored = AlertEngine.restore(watch_config, first.snapshot())
    out += [r for o, s in signals[cut - 20 :] for r in restored.apply(s, o)]  # read again from before the cut
    assert out == once


def test_the_slowest_busy_partition_sets_event_time(watch_config):
    engine = AlertEngine(watch_config)
    engine.apply(Signal(raw_partition=0, last_offset=5, watermark_s=100), 0)
    engine.apply(Signal(raw_partition=1, last_offset=5, watermark_s=160), 1)
    engine.apply(Signal(raw_partition=2, last_offset=5, watermark_s=130), 2)
    assert engine.event_time() == 100
    engine.apply(Signal(raw_partition=0, last_offset=5, watermark_s=100, idle=True), 3)
    assert engine.event_time() == 130
    engine.apply(Signal(raw_partition=2, last_offset=5, watermark_s=130, idle=True), 4)
    engine.apply(Signal(raw_partition=1, last_offset=5, watermark_s=160, idle=True), 5)
    assert engine.event_time() == 160
    assert engine.apply(Signal(raw_partition=1, last_offset=9, watermark_s=999), 5) == [], "an offset read again"


@pytest.mark.parametrize(
    ("posts", "reposts", "authors", "expected"),
    [(400, 300, 40, "amplified"), (400, 100, 380, "organic"), (1, 0, 1, "single"), (400, 300, 200, "organic")],
)
def test_amplification(posts, reposts, authors, expected):
    assert amplification(posts, reposts, authors) == expected


def test_share_of_voice_fires_when_a_competitor_takes_the_conversation(watch_config):
    """Nordair and Skyline each have 15 posts a minute for seven hours; then Skyline has 60 a minute for an hour:
    nordair's share falls from a half to a fifth -> share_of_voice fires for nordair (and for skyline, rising)."""
    watch = watch_config.model_copy(
        update={
            "alerts": watch_config.alerts.model_copy(
                update={"rules": watch_config.alerts.rules.model_validate({"defaults": {"share_of_voice": {}}})}
            )
        }
    )

    def both(minute: int, skyline: int, offset: int) -> Signal:
        start = START + timedelta(minutes=minute)
        partials = tuple(
            BucketMetrics(brand=b, bucket_start=start, raw_partition=0, posts=n, originals=n, neutral=n)
            for b, n in (("nordair", 15), ("skyline", skyline))
        )
        return Signal(raw_partition=0, last_offset=offset, watermark_s=int(start.timestamp()) + 59, partials=partials)

    rates = [15] * (7 * 60) + [60] * 60 + [15] * 120
    signals = [(i, both(i, n, i)) for i, n in enumerate(rates)]
    out = records_of(watch, signals)
    first = AlertEngine(watch)
    again = [r for o, s in signals[:450] for r in first.apply(s, o)]
    restored = AlertEngine.restore(watch, first.snapshot())
    assert again + [r for o, s in signals[450:] for r in restored.apply(s, o)] == out, "a restart changes nothing"
    fired = {(a.brand, a.rule) for a in out if isinstance(a, Alert) and a.status == "firing"}
    assert ("nordair", "share_of_voice") in fired
    assert all(rule == "share_of_voice" for _, rule in fired)


def test_an_incident_resolved_by_hand_resolves_its_alerts(watch_config):
    rng = random.Random(3)
    signals = stream(calm_day(rng, 6 * 60, peak=10) + [(80, 60)] * 5)
    engine = AlertEngine(watch_config)
    out = [r for o, s in signals for r in engine.apply(s, o)]
    incident = next(r for r in out if isinstance(r, Incident))
    assert engine.resolve_incident_by_hand("nordair", "nordair:1", "ana") == [], "another incident: nothing"
    records = engine.resolve_incident_by_hand("nordair", incident.id, "ana", "handled in PagerDuty")
    assert isinstance(records[0], Incident) and records[0].status == "resolved"
    alerts = [r for r in records if isinstance(r, Alert)]
    assert alerts and all(a.status == "resolved" and a.annotations["resolved_by"] == "ana" for a in alerts)
    assert engine.brands["nordair"].alerts.active == {}
