"""`lytte rules backtest`: run an alert rule causally over a plain CSV series of counts and print its alerts.

    $ lytte rules backtest --series united.csv --set min_count=5
    {"series": "united", "timestamp": "2015-02-22 22:10", "rule": "volume_spike", "value": 17.0, ...}

The rule is the same code the live engine runs (`streams.alerts.spike`), fed one row at a time, so an alert at a
row depends only on that row and the rows before it.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError

from schemas.alert_config import RULE_TYPES, VolumeSpike
from streams.alerts.spike import observe

#: rules that run on a series of one value per interval
SERIES_RULES = ("volume_spike",)
_NEEDS_MORE = {
    "negative_surge": "negative_surge needs two values per interval (negative posts and all posts); a plain "
    "series has one",
    "share_of_voice": "share_of_voice needs the brand's and its competitors' posts per interval; a plain series "
    "has one value",
}


def _parse_time(text: str) -> datetime:
    """ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]'; no zone means UTC. '2015-02-22 22:10' -> 2015-02-22T22:10Z;
    '2015-02-22T14:10:00-08:00' -> 2015-02-22T22:10Z."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def read_series(path: Path) -> tuple[list[tuple[str, datetime, float]], int]:
    """CSV `timestamp,value` rows (a header row is allowed and skipped when its value column is not a number), any
    regular interval (inferred from the timestamps: the most common difference; a row whose gap is a multiple of
    it means the missing intervals were zero; an irregular gap is an error naming the file and line), timestamps
    ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]', without a zone meaning UTC. Returns (the rows as (timestamp text as in
    the file, UTC datetime, value)) and the interval in seconds. Errors: ValueError('file:line: problem').

    Scenario: rows "timestamp,value", "2015-02-22 22:00,3", "2015-02-22 22:05,0", "2015-02-22 22:15,7" ->
    three rows (the 22:10 interval was empty), interval 300. A row at 22:17 instead -> ValueError
    'united.csv:4: 2015-02-22 22:17 is 720 s after the previous row, not a multiple of the 300 s interval'.
    Blank lines are skipped; the interval must be a whole number of seconds. When differences tie for most
    common, the shortest wins."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text") from None
    rows: list[tuple[str, datetime, float]] = []
    lines: list[int] = []
    first = True
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != 2:
            raise ValueError(f"{name}:{number}: expected 2 columns (timestamp,value), found {len(fields)}")
        stamp, raw = fields[0].strip(), fields[1].strip()
        value = _number(raw)
        header, first = first and value is None, False
        if header:
            continue
        if value is None:
            raise ValueError(f"{name}:{number}: value {raw!r} is not a number")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}:{number}: value {raw!r} is not a count (finite and >= 0)")
        try:
            moment = _parse_time(stamp)
        except ValueError:
            raise ValueError(
                f"{name}:{number}: timestamp {stamp!r} is neither ISO 8601 nor 'YYYY-MM-DD HH:MM[:SS]'"
            ) from None
        rows.append((stamp, moment, value))
        lines.append(number)
    if len(rows) < 2:
        raise ValueError(f"{name}:{lines[-1] if lines else 1}: at least two rows are needed to infer the interval")
    gaps = [(b[1] - a[1]).total_seconds() for a, b in itertools.pairwise(rows)]
    for gap, (stamp, _, _), number in zip(gaps, rows[1:], lines[1:], strict=True):
        if gap <= 0:
            raise ValueError(f"{name}:{number}: {stamp} is not after the previous row (rows must be in time order)")
    counts = Counter(gaps)
    interval = min(counts, key=lambda g: (-counts[g], g))
    if interval != int(interval):
        raise ValueError(f"{name}: the interval {interval} s is not a whole number of seconds")
    for gap, (stamp, _, _), number in zip(gaps, rows[1:], lines[1:], strict=True):
        if gap % interval:
            raise ValueError(
                f"{name}:{number}: {stamp} is {gap:g} s after the previous row, not a multiple of the "
                f"{int(interval)} s interval"
            )
    return rows, int(interval)


def _check_rule(rule: str) -> None:
    if rule in _NEEDS_MORE:
        raise ValueError(_NEEDS_MORE[rule])
    if rule not in SERIES_RULES:
        raise ValueError(f"unknown rule {rule!r} for a series backtest (rules: {', '.join(SERIES_RULES)})")


def backtest(
    series_name: str, rows: Iterable[tuple[str, datetime, float]], interval_s: int, rule: str, settings: VolumeSpike
) -> Iterator[dict]:
    """Run the rule causally (a decision at a row uses only that row and earlier ones) and yield one JSON object
    per alert firing, {"series", "timestamp" (the row's, as in the file), "rule", "value", "baseline", "score"},
    and one per resolve, the same with "event": "resolve" added (so that the alert's duration can be read; a
    firing line has no "event" key). Rules: volume_spike; negative_surge and share_of_voice need more than one
    value per row -> ValueError. A row's timestamp is the start of its interval. Numbers are rounded to 3
    decimals.

    Scenario (5-minute rows, shipped defaults): two calm days of 1 post per row, then a row of 40 -> one object
    {"series": "demo", "timestamp": <that row's>, "rule": "volume_spike", "value": 41.0, "baseline": 2.0,
    "score": 9.0}, and when the rows are calm again for `resolve_minutes`, {..., "event": "resolve"}."""
    _check_rule(rule)
    state = None
    for stamp, moment, value in rows:
        state, decision = observe(state, settings, moment, value, interval_s=interval_s)
        if decision.transition is None:
            continue
        found = {
            "series": series_name,
            "timestamp": stamp,
            "rule": rule,
            "value": round(decision.value, 3),
            "baseline": round(decision.baseline, 3),
            "score": round(decision.score, 3),
        }
        if decision.transition == "resolve":
            found["event"] = "resolve"
        yield found


def settings_with(rule: str, overrides: Iterable[str]) -> VolumeSpike:
    """The rule's settings with `key=value` overrides (values are YAML scalars), validated by the rule's model.

    ["min_count=5", "threshold=4.5"] -> VolumeSpike(min_count=5, threshold=4.5); ["min_cnt=5"] -> ValueError
    "--set min_cnt: unknown setting of volume_spike (settings: window_minutes, ...)"; ["min_count=lots"] ->
    ValueError "--set min_count: Input should be a valid integer, ..."."""
    kind = RULE_TYPES[rule]
    given: dict[str, object] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected key=value")
        if key not in kind.model_fields:
            raise ValueError(f"--set {key}: unknown setting of {rule} (settings: {', '.join(kind.model_fields)})")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"--set {key}: {raw!r} is not a YAML scalar ({exc.problem})") from None
        if isinstance(value, dict | list):
            raise ValueError(f"--set {key}: {raw!r} is not a scalar")
        given[key] = value
    try:
        return kind.model_validate(given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or ", ".join(given) or "settings"
            problems.append(f"--set {where}: {error['msg']}")
        raise ValueError("; ".join(problems)) from None


def run_backtest(
    series: Path, rule: str = "volume_spike", overrides: Iterable[str] = (), out: TextIO | None = None
) -> int:
    """The command `lytte rules backtest --series FILE.csv [--rule volume_spike] [--set key=value ...]`: `--set`
    values are parsed as YAML scalars and validated through the rule's settings model (an unknown key or a bad
    value -> ValueError with the key and the reason); writes JSON lines; returns the number of alerts (firings;
    resolve lines are not counted)."""
    out = sys.stdout if out is None else out
    _check_rule(rule)
    settings = settings_with(rule, overrides)
    rows, interval_s = read_series(Path(series))
    fired = 0
    for found in backtest(Path(series).stem, rows, interval_s, rule, settings):
        out.write(json.dumps(found) + "\n")
        fired += "event" not in found
    return fired
