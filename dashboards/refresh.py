"""A read that must not make a page wait: a refresh function run on a thread of its own, its result kept.

Scenario (cache_s 2, retry_s 5, wait_s 1, abandon_s 30, unreachable_after_s 10), `read` at each time:
- t=0: no result yet, so a refresh thread starts and `read` waits for it up to 1 s. It answers in 0.3 s:
  `state()` is FRESH and `keep(result)` has run.
- t=1: the result is 1 s old (under cache_s): nothing starts, `read` returns at once.
- t=3: a new refresh starts; it fails: `failed(exc)` runs, `state()` is FAILED.
- t=4, t=7: backing off (under retry_s since the failure): nothing starts. t=9: a refresh starts and hangs;
  `read` returns after 1 s with `state()` FAILED still; reads meanwhile return at once (one is running).
- t=40: the refresh has hung for over abandon_s: it is left behind and a new one starts. Whatever the old
  one returns later goes to `drop(result)` (to close what it holds), never to `keep`.
- A refresh that hangs without having failed: nothing succeeded for unreachable_after_s, so `state()` is
  UNREACHABLE (before any success: counted from the first refresh).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class State(enum.Enum):
    #: no refresh has ended yet, the first started under unreachable_after_s ago
    PENDING = "pending"
    #: the last refresh succeeded, under unreachable_after_s ago
    FRESH = "fresh"
    #: the last refresh that ended failed
    FAILED = "failed"
    #: nothing succeeded for unreachable_after_s, and the last refresh did not fail: one hangs
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Timing:
    """The bounds of a `BackgroundRefresh` (by default those of the module's scenario)."""

    cache_s: float = 2.0  # a result is reused this long
    wait_s: float = 1.0  # a read waits for the refresh it started at most this long
    retry_s: float = 5.0  # after a failure, no new attempt before this
    abandon_s: float = 30.0  # a refresh running this long is left behind
    unreachable_after_s: float = 10.0  # nothing succeeded this long: UNREACHABLE

    @classmethod
    def of(cls, owner: Any) -> Timing:
        """The timing an owner declares as class constants CACHE_S, WAIT_S, RETRY_S, ABANDON_S and
        UNREACHABLE_AFTER_S (as `dashboards.data.RawOffsets` does)."""
        return cls(owner.CACHE_S, owner.WAIT_S, owner.RETRY_S, owner.ABANDON_S, owner.UNREACHABLE_AFTER_S)


class BackgroundRefresh:
    """Runs `fetch(*args)` on a thread when a read finds the last result older than `timing.cache_s` (no new
    attempt within `retry_s` after a failure, none while one runs), and waits for it at most `wait_s`. A refresh
    running for more than `abandon_s` is left behind: a generation counter tells that its result is late.

    The callbacks run under `lock` and only for the current refresh: `keep(result)` after a success,
    `failed(exc)` after an exception. A late result goes to `drop(result)` (outside the lock). The owner keeps
    its own state under the same `lock`, and reads it together with `state()`.
    """

    def __init__(
        self,
        name: str,
        fetch: Callable[..., Any],
        keep: Callable[[Any], None],
        timing: Timing,
        *,
        drop: Callable[[Any], None] | None = None,
        failed: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.fetch, self.keep, self.drop, self.failed = fetch, keep, drop, failed
        self.timing = timing
        self.clock = clock
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._first_started_at: float | None = None
        self._started_at = 0.0
        self._ok_at: float | None = None
        self._failed_at: float | None = None

    def read(self, *args: Any) -> None:
        """Start a refresh with these arguments if one is due, and wait for it at most `wait_s`."""
        now = self.clock()
        started = None
        with self.lock:
            fresh = self._ok_at is not None and self._failed_at is None and now - self._ok_at < self.timing.cache_s
            backing_off = self._failed_at is not None and now - self._failed_at < self.timing.retry_s
            running = (
                self._thread is not None and self._thread.is_alive() and now - self._started_at <= self.timing.abandon_s
            )
            if not (fresh or backing_off or running):
                self._generation += 1  # a refresh left behind is no longer current: its result will be dropped
                started = self._thread = threading.Thread(
                    target=self._run, args=(self._generation, args), name=self.name, daemon=True
                )
                self._started_at = now
                if self._first_started_at is None:
                    self._first_started_at = now
                started.start()
        if started is not None:
            started.join(self.timing.wait_s)

    def state(self) -> State:
        """How the last refresh ended, and whether that is too long ago (see `State`)."""
        with self.lock:
            if self._failed_at is not None:
                return State.FAILED
            since = self._ok_at if self._ok_at is not None else self._first_started_at
            if since is not None and self.clock() - since > self.timing.unreachable_after_s:
                return State.UNREACHABLE
            return State.PENDING if self._ok_at is None else State.FRESH

    def _run(self, generation: int, args: tuple) -> None:
        try:
            result = self.fetch(*args)
            with self.lock:
                if generation == self._generation:
                    self.keep(result)
                    self._ok_at, self._failed_at = self.clock(), None
                    return
            if self.drop is not None:
                self.drop(result)
        except Exception as exc:
            with self.lock:
                if generation == self._generation:
                    self._failed_at = self.clock()
                    if self.failed is not None:
                        self.failed(exc)
