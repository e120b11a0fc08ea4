"""The pure pieces of the wall bench (`streams.bench.wall`): latencies from the page's stamps, percentiles, the
memory trend, CPU per screen, the process tree and the made-up history."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.records import BucketMetrics
from streams.bench import wall
from streams.bench.wall import (
    Write,
    cpu_per_screen,
    descendants,
    history_minutes,
    latency_summary,
    per_minute,
    reveal_latencies,
    trend,
)


def test_latency_is_the_first_change_that_shows_the_value():
    writes = [Write(1000, 10), Write(2000, 12)]
    assert reveal_latencies(writes, [(10, 1180), (12, 2950)]) == [180, 950]


def test_a_write_drawn_over_by_a_later_one_counts_when_the_later_one_shows():
    writes = [Write(1000, 10), Write(2000, 12)]
    assert reveal_latencies(writes, [(12, 2300)]) == [1300, 300]


def test_a_write_never_shown_is_none():
    writes = [Write(1000, 10), Write(2000, 12)]
    assert reveal_latencies(writes, [(10, 1180)]) == [180, None]
    assert reveal_latencies(writes, []) == [None, None]


def test_changes_before_the_write_and_unordered_stamps():
    # the page's list is read back in any order; a stamp before the write cannot be its drawing
    writes = [Write(1000, 10)]
    assert reveal_latencies(writes, [(11, 1500), (10, 900), (10, 1200)]) == [200]


def test_latency_summary():
    s = latency_summary([100, 200, 300, None])
    assert (s["n"], s["shown"], s["missing"]) == (4, 3, 1)
    assert (s["p50"], s["p95"], s["p99"], s["max"]) == (200, 300, 300, 300)
    empty = latency_summary([None])
    assert empty["shown"] == 0 and math.isnan(empty["p99"]) and math.isnan(empty["max"])


def every_30_s(*values: float) -> list[tuple[float, float]]:
    return [(30 * i, v) for i, v in enumerate(values)]


def test_trend_scenarios():
    flat = trend(every_30_s(100, 101, 99, 100))
    assert flat.slope_per_min == pytest.approx(-0.5) and flat.z == 0 and flat.flat
    assert (flat.first, flat.last) == (100, 100)
    growing = trend(every_30_s(*(100 + 0.5 * i for i in range(9))))
    assert growing.slope_per_min == pytest.approx(1) and growing.per_day == pytest.approx(1440)
    assert growing.z == pytest.approx(3.65, abs=0.01) and not growing.flat
    small = trend(every_30_s(*(1000 + 0.025 * i for i in range(9))))
    assert small.per_day == pytest.approx(72) and small.z > 3 and small.flat
    noisy = trend(every_30_s(100, 103, 97, 104, 96, 106))
    assert noisy.z == pytest.approx(0.38, abs=0.01) and noisy.flat
    caught = [100 + i for i in range(9)]
    caught[4] = 150
    assert trend(every_30_s(*caught)).slope_per_min == pytest.approx(2)


def test_trend_floor_and_too_few_samples():
    rising = every_30_s(*range(10, 100, 10))
    assert trend(rising, floor=1e6).flat  # rises for sure, but by less than the floor
    assert not trend(rising).flat
    assert trend(every_30_s(*range(6))).flat  # 6 samples cannot be sure of a rise
    assert not trend(every_30_s(*range(7))).flat
    two = trend(every_30_s(5, 6))
    assert math.isnan(two.slope_per_min) and not two.flat and (two.first, two.last) == (5, 6)
    assert math.isnan(trend([]).first)
    assert math.isnan(trend([(0, 1), (0, 2), (30, 3)]).slope_per_min)


@given(
    st.floats(1, 1e9),
    st.floats(-1e6, 1e6),
    st.lists(st.integers(0, 3600), min_size=3, max_size=40, unique=True),
)
def test_trend_of_a_line_is_its_slope(start, slope_per_min, times):
    t = trend([(s, start + slope_per_min * s / 60) for s in times])
    assert t.slope_per_min == pytest.approx(slope_per_min, rel=1e-6, abs=1e-3)
    assert t.first == pytest.approx(start + slope_per_min * min(times) / 60)
    if slope_per_min <= 0:
        assert t.flat
    elif len(times) >= 12 and slope_per_min * 1440 > 0.2 * abs(t.first) and slope_per_min > 1e-3:
        assert not t.flat  # a steadily rising line, long enough to be sure of


@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=30))
def test_a_shuffle_of_the_times_does_not_change_the_trend(values):
    samples = every_30_s(*values)
    assert trend(samples) == trend(list(reversed(samples)))


def test_cpu_figures():
    assert per_minute(1.5, 30) == 3.0
    assert cpu_per_screen(6.0, 10.0, 3) == 2.0
    assert math.isnan(cpu_per_screen(6.0, 6.0, 1))


def test_descendants_parents_first():
    tree = {1: [2, 3], 2: [4]}
    assert descendants(1, lambda p: tree.get(p, [])) == [1, 2, 3, 4]
    assert descendants(3, lambda p: tree.get(p, [])) == [3]


def test_history_minutes():
    every = history_minutes(10_000, measured=False)
    assert len(every) == 1440 and (every[0], every[-1]) == (8_560, 9_999)
    measured = history_minutes(10_000, measured=True)
    assert len(measured) == 1405
    assert not set(range(9_930, 9_965)) & set(measured)
    assert {9_929, 9_965} <= set(measured)


def test_no_measured_bucket_leaves_the_hour_for_25_minutes():
    """The latency phase relies on the measured brand's count moving only with its writes."""
    fill = 10_000
    measured = set(history_minutes(fill, measured=True))
    for now in range(fill, fill + 25):  # the wall's hour at minute `now`: now-59 .. now
        leaving = now - 60  # left the hour at `now`
        assert leaving not in measured


def test_bucket_is_a_consistent_partial():
    b = wall.bucket("nordair", 28_000_000, 40, random.Random(1), 2)
    assert BucketMetrics.model_validate_json(b.model_dump_json()) == b
    assert b.originals + b.reposts == b.posts == 40
    assert b.positive + b.neutral + b.negative == b.posts
    assert b.raw_partition == 2 and int(b.bucket_start.timestamp()) == 28_000_000 * 60
    assert len(b.top_posts) == 3 and all(t.url.startswith("https://") for t in b.top_posts)
    assert [t.count for t in b.terms] == sorted((t.count for t in b.terms), reverse=True)


def test_watch_config_has_six_tiles():
    config = wall.watch_config()
    assert len(config.watched()) == 6
    assert wall.MEASURED in {w.id for w, role in config.watched() if role == "brand"}


def a_result(**memory) -> dict:
    """A bench result with flat trends, 3 writes (one never shown), 1 CPU s/min per screen; `memory` added."""
    return {
        "latency_ms": latency_summary([100.0, 250.0, None]),
        "memory": {
            "minutes": 3,
            "batches": 150,
            "trends": {
                name: trend(every_30_s(1000, 1000, 1000)).__dict__ for name in ("heap", "dom_nodes", "elements")
            },
        }
        | memory,
        "cpu": {
            "one_screen_s_per_min": 2.0,
            "k_screens_s_per_min": 4.0,
            "screens": 3,
            "per_screen_s_per_min": 1.0,
            "screens_following": 3,
        },
        "machine": {"cpus": 2, "load_at_start": (1.0, 1, 1), "load_at_end": (2.0, 1, 1)},
        "console_errors": {"screen 1": [], "screen 2": ["x"]},
    }


def test_summary_reads_a_result():
    text = wall.summary(a_result())
    assert "2 of 3 writes shown" in text and "p99 250 ms" in text and "flat" in text
    assert "1.00 s/min per screen" in text


def test_push_worked():
    assert wall.push_worked(240, 200, 220, 5)
    assert not wall.push_worked(46, 200, 220, 5)


def test_plain_turns_nan_into_none():
    assert wall.plain({"p99": math.nan, "x": [1.0, math.nan], "t": (2, math.nan)}) == {
        "p99": None,
        "x": [1.0, None],
        "t": [2, None],
    }


@given(st.integers(0, 10_000), st.integers(1, 16), st.integers(0, 2**32))
def test_split_shares_every_post(posts, parts, seed):
    shares = wall.split(posts, parts, random.Random(seed))
    assert len(shares) == parts and sum(shares) == posts and min(shares) >= 0


def test_saturation_and_paced_cost():
    assert not wall.saturated(68, 66)
    assert wall.saturated(68, 25)
    assert wall.screen_cost({"callbacks_per_min_per_screen": 60, "cpu_ms_per_callback": 500}) == 30.0
    assert math.isnan(wall.screen_cost({"callbacks_per_min_per_screen": 0, "cpu_ms_per_callback": math.nan}))


def test_summary_says_when_the_server_was_saturated():
    window = {"cpu_s_per_min": 40.0, "callbacks_per_min_per_screen": 68, "cpu_ms_per_callback": 590.0}
    crowded = window | {"cpu_s_per_min": 54.0, "callbacks_per_min_per_screen": 25, "callback_round_trip_ms": 28000.0}
    window |= {"callback_round_trip_ms": 1300.0}
    result = {
        "latency_ms": latency_summary([100.0]),
        "memory": {
            "minutes": 1,
            "batches": 50,
            "trends": {n: trend(every_30_s(1, 1, 1)).__dict__ for n in ("heap", "dom_nodes", "elements")},
        },
        "cpu": {
            "one_screen_s_per_min": 40.0,
            "k_screens_s_per_min": 54.0,
            "screens": 3,
            "per_screen_s_per_min": 7.0,
            "screens_following": 3,
            "one_screen": window,
            "k_screens": crowded,
            "saturated": True,
            "paced_per_screen_s_per_min": wall.screen_cost(window),
        },
        "machine": {"cpus": 2, "load_at_start": (1.0, 1, 1), "load_at_end": (2.0, 1, 1)},
        "console_errors": {"screen 1": []},
    }
    text = wall.summary(result)
    assert "SATURATED with 3 screens" in text and "a screen costs 40.1 s/min (67 % of a core)" in text


def test_snapshot_growth_judges_what_is_not_code():
    mb = 1_000_000
    first = {"objects": 20 * mb, "strings": 0, "native": 0, "code": 2 * mb}
    code_grew = wall.snapshot_growth(first, first | {"objects": 20 * mb + 10_000, "code": 2.5 * mb}, 60)
    assert code_grew["not_code"]["per_day"] == 240_000 and code_grew["not_code"]["flat"]
    kept = wall.snapshot_growth(first, first | {"objects": 20.2 * mb}, 60)
    assert kept["not_code"]["per_day"] == 4.8 * mb and not kept["not_code"]["flat"]
    strings_kept = wall.snapshot_growth(first, first | {"strings": 0.2 * mb}, 60)
    assert not strings_kept["not_code"]["flat"]


def test_summary_gives_the_snapshots_line():
    mib = 2**20
    first = {"objects": 20 * mib, "strings": 4 * mib, "native": 1 * mib, "code": 3 * mib}
    text = wall.summary(a_result(snapshots=wall.snapshot_growth(first, first | {"code": 4 * mib}, 60)))
    assert "not compiled code 25.00 -> 25.00 MiB, +0.00 MiB a day at this pace: flat" in text
    assert "compiled code 3.00 -> 4.00 MiB" in text


def test_summary_says_what_the_page_still_held_of_a_window():
    kib = 2**10
    growth = wall.snapshot_growth(
        {"objects": 0, "strings": 0, "native": 0, "code": 0}, {"objects": 0, "strings": 0, "native": 0, "code": 0}, 60
    )
    growth["survivors"] = {
        "born_min": [10.0, 35.0],
        "held": {"objects": 3 * kib, "strings": kib // 2, "native": 0, "code": 200 * kib},
        "top": [(200 * kib, 57, "code", "system / Code"), (3 * kib, 40, "object", "Object")],
    }
    text = wall.summary(a_result(snapshots=growth))
    assert "of what the page made between 10 and 35 min it still held at the end: objects 3.0 KiB" in text
    assert "strings 0.5, native 0.0, compiled code 200.0" in text and "57 code 'system / Code'" in text
