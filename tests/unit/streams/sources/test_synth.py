from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from streams.core.matching import Matcher
from streams.sources.synth import Incident, SynthSource, day_night

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_synth_posts_mention_watched_brands_and_rarely_repeat(watch_config):
    posts = [p for _, p in SynthSource(watch_config, rate=50, incident=None).schedule(START, 5000)]
    matcher = Matcher(watch_config)
    matched = sum(1 for p in posts if matcher.brands(p.text))
    assert 0.8 < matched / len(posts) < 0.97  # some background chatter, counted as unmatched
    assert len({p.text for p in posts}) / len(posts) > 0.9
    assert len({p.id for p in posts}) == len(posts)


def test_the_incident_is_a_negative_surge_with_a_key_person(watch_config):
    source = SynthSource(watch_config, rate=5, seed=3, incident=Incident(at_minute=2, minutes=2, surge_factor=4))
    schedule = list(source.schedule(START, 3000))
    per_minute = Counter(int(t // 60) for t, _ in schedule)
    assert per_minute[2] > 3 * per_minute[1]
    during = [p for t, p in schedule if 120 <= t < 240]
    person = watch_config.key_people[0].handle
    assert any(p.author.handle == person or f"@{person}" in p.text for p in during)
    assert not any(p.author.handle == person for t, p in schedule if t < 120)


def test_history_comes_first_dated_in_the_past_and_sent_at_once(watch_config):
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    source = SynthSource(watch_config, rate=2.0, incident=Incident(at_minute=-30, minutes=5))
    schedule = list(source.schedule(start, history_minutes=60, duration_minutes=0))
    assert 6_000 < len(schedule) < 9_500, "an hour at 2 posts/s, with a 4x surge for five minutes"
    assert all(delay == 0.0 for delay, _ in schedule)
    times = [post.created_at for _, post in schedule]
    assert times == sorted(times) and start - timedelta(minutes=60) <= times[0] and times[-1] < start
    surge = [p for _, p in schedule if start - timedelta(minutes=30) <= p.created_at < start - timedelta(minutes=25)]
    assert len(surge) > 3 * 5 * 60 * 2, "the incident happens inside the history"


def test_the_day_night_rhythm_follows_the_hour():
    assert day_night(datetime(2026, 1, 1, 3, tzinfo=UTC)) == pytest.approx(0.25)
    assert day_night(datetime(2026, 1, 1, 9, tzinfo=UTC)) == pytest.approx(1.0)
    assert day_night(datetime(2026, 1, 1, 15, tzinfo=UTC)) == pytest.approx(1.75)
