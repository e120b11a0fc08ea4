"""The background refresh behind the dashboard's Kafka reads: a result is reused for cache_s, a failure backs off
for retry_s, a read waits at most wait_s, a refresh stuck for abandon_s is left behind and its late result dropped,
and nothing succeeding for unreachable_after_s reads as unreachable. Pure threading; the clock is a fake one."""

from __future__ import annotations

import threading
import time

import pytest

from dashboards.refresh import BackgroundRefresh, State, Timing
from tests.fixtures.workers import wait_until


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Source:
    """A refresh function: answers 1, 2, 3...; fails while `fail` is set; the calls listed in `hang` block until
    `release` is set."""

    def __init__(self, hang: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.fail = False
        self.hang = hang
        self.release = threading.Event()
        self.kept: list[int] = []
        self.dropped: list[int] = []
        self.failures: list[str] = []

    def fetch(self) -> int:
        self.calls += 1
        n = self.calls
        if n in self.hang:
            assert self.release.wait(10)
        if self.fail:
            raise ConnectionError(f"call {n}")
        return n

    def refresh(self, clock: Clock, wait_s: float = 2.0) -> BackgroundRefresh:
        return BackgroundRefresh(
            "test-refresh",
            self.fetch,
            self.kept.append,
            Timing(cache_s=2.0, wait_s=wait_s, retry_s=5.0, abandon_s=30.0, unreachable_after_s=10.0),
            drop=self.dropped.append,
            failed=lambda exc: self.failures.append(str(exc)),
            clock=clock,
        )


def no_refresh_running() -> bool:
    return not any(t.name == "test-refresh" for t in threading.enumerate())


def test_a_result_is_reused_for_cache_s_then_refreshed():
    clock, source = Clock(), Source()
    r = source.refresh(clock)
    assert r.state() is State.PENDING
    r.read()
    assert r.state() is State.FRESH and source.kept == [1]
    clock.t = 1.9
    r.read()
    assert source.calls == 1
    clock.t = 2.1
    r.read()
    assert source.calls == 2 and source.kept == [1, 2]


def test_after_a_failure_no_new_attempt_for_retry_s():
    clock, source = Clock(), Source()
    source.fail = True
    r = source.refresh(clock)
    r.read()
    assert r.state() is State.FAILED and source.failures == ["call 1"] and source.kept == []
    clock.t = 4.9
    r.read()
    assert source.calls == 1
    clock.t = 5.1
    r.read()
    assert source.calls == 2 and r.state() is State.FAILED
    source.fail = False
    clock.t = 10.2
    r.read()
    assert r.state() is State.FRESH and source.kept == [3]


def test_a_read_waits_for_a_hanging_refresh_at_most_wait_s_and_starts_no_second():
    clock, source = Clock(), Source(hang=(1,))
    r = source.refresh(clock, wait_s=0.2)
    try:
        started = time.monotonic()
        r.read()
        assert 0.2 <= time.monotonic() - started < 1.5
        assert r.state() is State.PENDING
        started = time.monotonic()
        r.read()  # one is running: no second refresh, no second wait
        assert time.monotonic() - started < 0.1 and source.calls == 1
    finally:
        source.release.set()
    wait_until(lambda: source.kept == [1], 5, "the refresh to end")
    assert r.state() is State.FRESH


@pytest.mark.parametrize("late_failure", [False, True])
def test_a_refresh_stuck_past_abandon_s_is_left_behind_and_what_it_returns_late_is_dropped(late_failure):
    clock, source = Clock(), Source(hang=(1,))
    r = source.refresh(clock, wait_s=0.05)
    try:
        r.read()
        clock.t = 29.0
        r.read()
        assert source.calls == 1  # still running, not abandoned yet
        clock.t = 31.0
        r.read()
        assert source.calls == 2 and source.kept == [2] and r.state() is State.FRESH
        source.fail = late_failure
    finally:
        source.release.set()
    wait_until(no_refresh_running, 5, "the refresh left behind to end")
    assert source.kept == [2] and r.state() is State.FRESH and source.failures == []
    assert source.dropped == ([] if late_failure else [1])


def test_nothing_succeeding_for_unreachable_after_s_reads_as_unreachable():
    clock, source = Clock(), Source(hang=(1,))
    never = source.refresh(clock, wait_s=0.05)
    try:
        never.read()
        clock.t = 9.9
        assert never.state() is State.PENDING
        clock.t = 10.1
        assert never.state() is State.UNREACHABLE
    finally:
        source.release.set()

    clock, source = Clock(), Source(hang=(2,))
    hangs = source.refresh(clock, wait_s=0.05)
    try:
        hangs.read()
        clock.t = 2.5
        hangs.read()  # the second refresh hangs
        assert hangs.state() is State.FRESH and source.calls == 2
        clock.t = 10.1
        assert hangs.state() is State.UNREACHABLE
    finally:
        source.release.set()
