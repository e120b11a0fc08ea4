"""`lytte rules backtest`: reading a plain series, running the rule causally, the JSON lines it writes."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.alert_config import VolumeSpike
from streams.alerts.backtest import backtest, read_series, run_backtest, settings_with
from tests.fixtures.factories import AIRLINE_TWEETS

T0 = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def series_factory(tmp_path) -> Callable[..., Path]:
    """series_factory(values, step_s=300, name="demo", header=True, fmt="%Y-%m-%d %H:%M", skip=()) -> the path
    of a `timestamp,value` CSV of `values` every `step_s` from T0, leaving out the rows whose index is in
    `skip`."""

    def make(values, step_s=300, name="demo", header=True, fmt="%Y-%m-%d %H:%M", skip=()) -> Path:
        lines = ["timestamp,value"] if header else []
        for i, value in enumerate(values):
            if i not in skip:
                lines.append(f"{(T0 + timedelta(seconds=step_s * i)).strftime(fmt)},{value}")
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return make


def _write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- read_series ---------------------------------------------------------------------------------------------


def test_read_series_skips_a_header_and_infers_the_interval(series_factory):
    rows, interval = read_series(series_factory([3, 0, 7]))
    assert interval == 300
    assert rows == [
        ("2026-03-02 00:00", T0, 3.0),
        ("2026-03-02 00:05", T0 + timedelta(minutes=5), 0.0),
        ("2026-03-02 00:10", T0 + timedelta(minutes=10), 7.0),
    ]


def test_read_series_without_a_header_with_iso_timestamps_and_zones(tmp_path):
    text = "2015-02-22T14:10:00-08:00,2\n2015-02-22T22:11:00Z,4\n2015-02-22 22:12:00,1\n\n2015-02-22T22:13,0\n"
    rows, interval = read_series(_write(tmp_path, text))
    assert interval == 60
    assert [r[0] for r in rows] == [
        "2015-02-22T14:10:00-08:00",
        "2015-02-22T22:11:00Z",
        "2015-02-22 22:12:00",
        "2015-02-22T22:13",
    ]
    assert rows[0][1] == datetime(2015, 2, 22, 22, 10, tzinfo=UTC)
    assert all(r[1].tzinfo == UTC for r in rows)


def test_a_gap_of_whole_intervals_is_allowed_and_the_commonest_step_is_the_interval(series_factory):
    rows, interval = read_series(series_factory([1] * 10, skip={3, 4, 7}))
    assert interval == 300 and len(rows) == 7
    assert rows[3][1] - rows[2][1] == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("timestamp,value\n2026-03-02 00:00,1\n2026-03-02 00:05,1\n2026-03-02 00:12,1\n", r"s\.csv:4: .*420 s .*300 s"),
        ("t,v\n2026-03-02 00:00,1\n2026-03-02 00:05,x\n", r"s\.csv:3: value 'x' is not a number"),
        ("t,v\n2026-03-02 00:00,1\nyesterday,1\n", r"s\.csv:3: timestamp 'yesterday'"),
        ("t,v\n2026-03-02 00:00,1\n2026-03-02 00:05,-2\n", r"s\.csv:3: .*not a count"),
        ("t,v\n2026-03-02 00:00,1\n2026-03-02 00:05,nan\n", r"s\.csv:3: .*not a count"),
        ("t,v\n2026-03-02 00:05,1\n2026-03-02 00:00,1\n", r"s\.csv:3: .*not after the previous row"),
        ("t,v\n2026-03-02 00:05,1\n2026-03-02 00:05,1\n", r"s\.csv:3: .*not after the previous row"),
        ("t,v\n2026-03-02 00:00,1,2\n", r"s\.csv:2: expected 2 columns"),
        ("t,v\n2026-03-02 00:00,1\n", r"s\.csv:2: at least two rows"),
        ("", r"s\.csv:1: at least two rows"),
        ("2026-03-02 00:00:00.5,1\n2026-03-02 00:00:01,1\n", r"s\.csv: the interval 0.5 s"),
    ],
)
def test_read_series_names_the_file_and_line_of_a_problem(tmp_path, text, problem):
    with pytest.raises(ValueError, match=problem):
        read_series(_write(tmp_path, text))


def test_only_the_first_row_may_be_a_header(tmp_path):
    with pytest.raises(ValueError, match=r":3: value 'v' is not a number"):
        read_series(_write(tmp_path, "2026-03-02 00:00,1\n2026-03-02 00:01,1\nt,v\n"))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.csv: cannot read"):
        read_series(tmp_path / "nope.csv")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    step_s=st.sampled_from([1, 60, 300, 3600, 86400]),
    # the interval is the most common gap: with up to 4 skipped rows (each one gap of two steps) at least 14 rows
    # keep the one-step gaps in the majority
    values=st.lists(st.integers(0, 10**6), min_size=14, max_size=40),
    skips=st.sets(st.integers(1, 39), max_size=4),
    header=st.booleans(),
)
def test_read_series_gives_back_what_was_written(series_factory, step_s, values, skips, header):
    skip = {i for i in skips if i < len(values) - 1 and i % 3 == 1}  # keep most steps regular
    path = series_factory(values, step_s=step_s, header=header, fmt="%Y-%m-%dT%H:%M:%S")
    path = series_factory(values, step_s=step_s, header=header, fmt="%Y-%m-%dT%H:%M:%S", skip=skip)
    rows, interval = read_series(path)
    assert interval == step_s
    kept = [i for i in range(len(values)) if i not in skip]
    assert [r[2] for r in rows] == [float(values[i]) for i in kept]
    assert [r[1] for r in rows] == [T0 + timedelta(seconds=step_s * i) for i in kept]


# ---- backtest and the command ----------------------------------------------------------------------------------


def _calm_then_spike(days: int = 2, spike: int = 40) -> list[int]:
    return [1] * (days * 288) + [spike] + [1] * 12


def test_backtest_writes_one_line_per_firing_and_one_per_resolve(series_factory):
    path = series_factory(_calm_then_spike(), name="demo")
    rows, interval = read_series(path)
    found = list(backtest("demo", rows, interval, "volume_spike", VolumeSpike()))
    fire, resolve = found
    assert fire == {
        "series": "demo",
        "timestamp": rows[576][0],
        "rule": "volume_spike",
        "value": 41.0,
        "baseline": 2.0,
        "score": pytest.approx(9.0, abs=0.05),
    }
    assert (
        resolve["event"] == "resolve" and resolve["timestamp"] == rows[576 + 3][0]
    )  # 10 minutes calm after the window


def test_run_backtest_prints_json_lines_and_counts_the_alerts(series_factory):
    out = io.StringIO()
    assert run_backtest(series_factory(_calm_then_spike(), name="nordair"), out=out) == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("event") for line in lines] == [None, "resolve"]
    assert lines[0]["series"] == "nordair" and lines[0]["timestamp"] == "2026-03-04 00:00"


def test_set_overrides_the_settings(series_factory):
    path = series_factory(_calm_then_spike())
    assert run_backtest(path, overrides=["min_count=100"], out=io.StringIO()) == 0
    assert run_backtest(path, overrides=["threshold= 20", "resolve_threshold=1"], out=io.StringIO()) == 0
    assert settings_with("volume_spike", ["threshold=4.5", "ratio=3"]) == VolumeSpike(threshold=4.5, ratio=3)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (["min_cnt=5"], r"--set min_cnt: unknown setting of volume_spike \(settings: window_minutes"),
        (["min_count=lots"], r"--set min_count: .*integer"),
        (["window_minutes=0"], r"--set window_minutes: .*greater than or equal to 1"),
        (["threshold=[1, 2]"], r"--set threshold: .*not a scalar"),
        (["threshold"], r"--set 'threshold': expected key=value"),
        (["resolve_threshold=9"], r"--set resolve_threshold: .*resolve_threshold must be below threshold"),
        (["severity=loud"], r"--set severity: "),
    ],
)
def test_a_bad_set_names_the_key_and_the_reason(series_factory, overrides, problem):
    with pytest.raises(ValueError, match=problem):
        run_backtest(series_factory([1, 2, 3]), overrides=overrides, out=io.StringIO())


@pytest.mark.parametrize(
    ("rule", "problem"),
    [("negative_surge", "two values per interval"), ("share_of_voice", "competitors"), ("viral", "unknown rule")],
)
def test_rules_that_need_more_than_one_value_are_refused(series_factory, rule, problem):
    with pytest.raises(ValueError, match=problem):
        run_backtest(series_factory([1, 2, 3]), rule=rule, out=io.StringIO())


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 60), min_size=2, max_size=80), cut=st.integers(2, 80))
def test_the_backtest_is_causal(values, cut):
    rule = VolumeSpike(warmup_minutes=30, min_count=5)
    rows = [(str(i), T0 + timedelta(minutes=5 * i), float(v)) for i, v in enumerate(values)]
    whole = list(backtest("s", rows, 300, "volume_spike", rule))
    prefix = list(backtest("s", rows[:cut], 300, "volume_spike", rule))
    assert [a for a in whole if int(a["timestamp"]) < cut] == prefix


# ---- the real airline tweets (CC BY-NC-SA: read from ../shared/data, never copied) -------------------------------


@pytest.fixture(scope="module")
def airline_series(tmp_path_factory) -> dict[str, Path]:
    """Per-airline 5-minute counts over the nine days, as backtest CSVs in a temporary directory."""
    if not AIRLINE_TWEETS.exists():
        pytest.skip("../shared/data/airline/Tweets.csv is absent")
    counts: dict[str, Counter] = {}
    seen = set()
    with AIRLINE_TWEETS.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["tweet_id"] in seen:
                continue
            seen.add(row["tweet_id"])
            at = datetime.strptime(row["tweet_created"], "%Y-%m-%d %H:%M:%S %z")
            slot = int(at.timestamp()) // 300 * 300
            counts.setdefault(row["airline"], Counter())[slot] += 1
    first = min(min(c) for c in counts.values()) // 3600 * 3600
    last = max(max(c) for c in counts.values())
    folder = tmp_path_factory.mktemp("airline")
    paths = {}
    for airline, per_slot in counts.items():
        path = folder / f"{airline.lower().replace(' ', '_')}.csv"
        lines = ["timestamp,value"] + [
            f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M},{per_slot.get(t, 0)}" for t in range(first, last + 1, 300)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths[airline] = path
    return paths


def _alerts(path: Path) -> list[dict]:
    out = io.StringIO()
    run_backtest(path, out=out)
    return [a for a in map(json.loads, out.getvalue().splitlines()) if "event" not in a]


def test_the_american_airlines_storm_fires_and_nine_days_of_six_airlines_stay_quiet(airline_series):
    alerts = {airline: _alerts(path) for airline, path in airline_series.items()}
    storm = [a for a in alerts["American"] if "2015-02-22" <= a["timestamp"] < "2015-02-24"]
    assert storm, "the 22-23 Feb cancellations at American (Dallas winter storm) should fire"
    assert all(len(found) <= 8 for found in alerts.values()), {k: len(v) for k, v in alerts.items()}
    assert sum(len(found) for found in alerts.values()) <= 25
    assert not alerts["Virgin America"]  # about 60 tweets a day: nothing reaches 10 in 10 minutes
