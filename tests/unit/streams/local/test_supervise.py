"""The restart decisions of `lytte up`: backoff, its reset after a long run, recent-restart counting."""

from __future__ import annotations

import doctest

from streams.local import supervise
from streams.local.supervise import Supervised, exit_line, on_exit, on_started, on_stopped, record, restarts_recent


def crash_loop(times: int, run_s: float, start: float = 0.0) -> tuple[Supervised, list[float], float]:
    """Start, run `run_s`, crash, wait out the backoff, `times` times; the delays and the clock at the end."""
    s, now, delays = Supervised("worker"), start, []
    for pid in range(times):
        s = on_started(s, pid=pid, now=now)
        now += run_s
        s, delay = on_exit(s, code=-9, now=now)
        delays.append(delay)
        now += delay
    return s, delays, now


def test_the_backoff_doubles_up_to_30_s():
    _, delays, _ = crash_loop(8, run_s=0.5)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_run_of_a_minute_resets_the_backoff():
    s, delays, now = crash_loop(4, run_s=1)
    assert delays[-1] == 8
    s, delay = on_exit(on_started(s, pid=9, now=now), code=1, now=now + 60)
    assert delay == 1
    s, delay = on_exit(on_started(s, pid=10, now=now + 61), code=1, now=now + 62)
    assert delay == 2


def test_a_run_just_short_of_a_minute_keeps_backing_off():
    s, _, now = crash_loop(2, run_s=1)
    _, delay = on_exit(on_started(s, pid=3, now=now), code=1, now=now + 59)
    assert delay == 4


def test_restarts_older_than_ten_minutes_drop_out_of_the_recent_count():
    s, _, now = crash_loop(3, run_s=100)  # restarts at about 100, 201, 303
    assert (s.restarts, restarts_recent(s, now)) == (3, 3)
    assert restarts_recent(s, 100 + 600) == 2
    assert restarts_recent(s, 303 + 600) == 0
    s, _ = on_exit(on_started(s, pid=5, now=2000), code=0, now=2001)
    assert (s.restarts, restarts_recent(s, 2001), len(s.restart_times)) == (4, 1, 1)  # old times are forgotten


def test_an_exit_is_recorded_and_announced():
    s = on_started(Supervised("synth"), pid=77, now=10.0)
    s, delay = on_exit(s, code=-9, now=12.5)
    assert record(s, now=13.0) == {
        "name": "synth",
        "state": "restarting",
        "pid": None,
        "restarts": 1,
        "restarts_recent": 1,
        "last_exit_code": -9,
        "last_exit_ms": 12500,
        "since_ms": 12500,
    }
    line = exit_line(s, delay, now=12.5)
    assert line == "synth exited with code -9 (restart 1 in the last 10 min); restarting in 1 s"
    stopped = on_stopped(on_started(s, pid=78, now=14.0), now=20.0)
    assert (stopped.state, stopped.pid, stopped.restarts, stopped.since) == ("stopped", None, 1, 20.0)


def test_the_docstring_scenarios_hold():
    assert doctest.testmod(supervise).failed == 0
