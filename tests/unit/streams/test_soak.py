import csv
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.settings import Settings
from streams.core.expiry import horizon_s
from streams.soak import (
    SOAK_SETTINGS,
    Growth,
    Sample,
    judge,
    latest_values,
    settle_time,
    summary_line,
    window_means,
    windows,
    write_csv,
)

keys = st.sampled_from([b"a", b"b", b"c", b"d"])
changelogs = st.lists(st.tuples(keys, st.one_of(st.none(), st.binary(min_size=1, max_size=3))), max_size=40)


def test_recovery_keeps_the_latest_value_per_key_and_forgets_tombstoned_keys():
    log = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"b", None), (b"c", None)]
    assert latest_values(log) == {b"a": b"3"}
    assert latest_values([(b"a", None), (b"a", b"back")]) == {b"a": b"back"}
    assert latest_values([]) == {}


@given(changelogs)
def test_a_key_is_live_exactly_when_its_last_record_has_a_value(log):
    last = {}
    for key, value in log:
        last[key] = value
    assert latest_values(log) == {k: v for k, v in last.items() if v is not None}


@given(changelogs, st.booleans())
def test_compaction_does_not_change_what_recovery_loads(log, drop_tombstones):
    # Kafka's cleaner keeps the last record per key (in log order) and, later, drops tombstones
    last_at = {key: i for i, (key, _) in enumerate(log)}
    compacted = [(k, v) for i, (k, v) in enumerate(log) if last_at[k] == i and not (drop_tombstones and v is None)]
    assert latest_values(compacted) == latest_values(log)


def test_the_windows_are_the_middle_and_last_thirds_after_the_settle_time():
    assert windows(1440, settle_s=210) == ((480, 960), (960, 1440))
    assert windows(360, settle_s=210) == ((210, 240), (240, 360))
    points = [(t, float(t)) for t in range(0, 361, 30)]
    assert window_means(points, settle_s=180) == (195.0, 300.0)
    # settled before the middle third begins: the whole middle third counts (120, 150, 180, 210)
    assert window_means(points, settle_s=60) == (165.0, 300.0)
    # a run too short for a settled middle window
    assert window_means(points, settle_s=240) is None
    assert window_means([], settle_s=0) is None


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=13, max_size=13),
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=13, max_size=13),
)
def test_what_happens_before_the_settle_time_never_counts(early_a, early_b):
    times = list(range(0, 721, 60))  # 0 .. 720 s; thirds from 240 and 480 s
    late = {t: float(t % 7) for t in times}
    a = [(t, early_a[i] if t < 240 else late[t]) for i, t in enumerate(times)]
    b = [(t, early_b[i] if t < 240 else late[t]) for i, t in enumerate(times)]
    assert window_means(a, settle_s=200) == window_means(b, settle_s=200)


@given(st.floats(0, 1e9, allow_nan=False), st.floats(0, 1, allow_nan=False))
def test_a_constant_series_is_flat_and_shrinking_is_flat(level, tolerance):
    assert Growth("x", level, level, tolerance).flat
    assert Growth("x", level, level / 2, 0.0).flat


def test_growth_beyond_the_tolerance_and_slack_is_not_flat():
    assert Growth("rss_mb", 200, 220, 0.15).flat
    assert math.isclose(Growth("rss_mb", 200, 220, 0.15).change, 0.10)
    assert not Growth("rss_mb", 200, 240, 0.15).flat
    assert Growth("entries[partition-counters]", 4, 90, 0.10, slack=100).flat
    assert not Growth("entries[buckets]", 1000, 1211, 0.10, slack=100).flat
    assert Growth("x", 0, 0, 0.1).change == 0.0
    assert Growth("x", 0, 1, 0.1).change == math.inf


def sample(t, rss=200.0, seen=1000, buckets=1000, seen_bytes=4_000_000, bucket_bytes=2_000_000):
    return Sample(
        t_s=t,
        posts=300 * t,
        lag=0,
        deadlettered=0,
        rss_mb=rss,
        redis_mb=1.0,
        entries={"entries": seen, "buckets": buckets},
        records={"entries": 2 * seen, "buckets": 3 * buckets},
        changelog_bytes={"entries": seen_bytes, "buckets": bucket_bytes},
    )


def test_a_table_that_keeps_growing_is_named():
    samples = [sample(t, buckets=1000 if t <= 210 else 1000 + 200 * (t - 210) // 30) for t in range(0, 361, 30)]
    growths = {g.series: g for g in judge(samples, settle_s=180)}
    assert (growths["entries[buckets]"].mid, growths["entries[buckets]"].end) == (1000, 1600)
    assert (growths["entries"].mid, growths["entries"].end) == (2000, 2600)
    assert {name for name, g in growths.items() if not g.flat} == {"entries[buckets]", "entries"}
    line = summary_line(6, 300, 120, list(growths.values()))
    assert line.startswith("soak: minutes=6 rate=300 horizon_s=120 rss_mb_mid=200 rss_mb_end=200 ")
    assert "entries_mid=2000 entries_end=2600 changelog_mb_mid=5.7 changelog_mb_end=5.7 flat=no" in line


def test_flat_state_gives_flat_yes_and_every_field_parses():
    samples = [sample(t, rss=190 + (t % 60) / 6) for t in range(0, 1441, 30)]
    line = summary_line(24, 300, 120, judge(samples, settle_s=210))
    fields = dict(item.split("=") for item in line.removeprefix("soak: ").split())
    assert list(fields) == [
        "minutes",
        "rate",
        "horizon_s",
        "rss_mb_mid",
        "rss_mb_end",
        "entries_mid",
        "entries_end",
        "changelog_mb_mid",
        "changelog_mb_end",
        "flat",
    ]
    assert fields["flat"] == "yes"
    assert all(not math.isnan(float(v)) for k, v in fields.items() if k != "flat")


def test_a_run_too_short_to_judge_is_not_flat():
    samples = [sample(t) for t in (30, 60, 90)]
    assert judge(samples, settle_s=210) is None
    assert summary_line(1.5, 300, 120, None).endswith(
        "entries_mid=nan entries_end=nan changelog_mb_mid=nan changelog_mb_end=nan flat=no"
    )


def test_the_soak_horizon_is_two_minutes_and_settles_after_three_and_a_half():
    settings = Settings(**SOAK_SETTINGS)
    assert horizon_s(settings) == 120
    assert settle_time(settings) == 210


def test_the_csv_has_a_row_per_sample_and_columns_per_table(tmp_path):
    out = tmp_path / "soak.csv"
    write_csv(out, [sample(30), sample(60, seen=1200)])
    rows = list(csv.DictReader(out.open()))
    assert [r["t_s"] for r in rows] == ["30", "60"]
    assert rows[1]["entries:entries"] == "1200"
    assert rows[1]["entries"] == "2200"
    assert rows[0]["changelog_bytes:buckets"] == "2000000"


@pytest.mark.parametrize("minutes", [6, 24])
def test_the_sample_times_reach_the_end_of_the_run(minutes):
    # the run samples at k * sample_s for k = 1 .. minutes * 60 / sample_s: the last third holds samples
    times = [30 * k for k in range(1, minutes * 2 + 1)]
    assert window_means([(t, 1.0) for t in times], settle_s=210) == (1.0, 1.0)
