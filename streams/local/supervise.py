"""What `lytte up` decides when one of its services exits, as pure functions over a `Supervised` record.

A service is restarted after a backoff that starts at 1 s and doubles up to 30 s; once a run has lasted
60 s the next crash starts again at 1 s. Restarts within the last 10 minutes are counted, so a service
that keeps crashing shows up in `{p}:services` instead of looping quietly. `Stack` does the I/O: it calls
`on_started` after it starts a process, `on_exit` when the process is gone, `on_stopped` on Ctrl-C, and
writes `record(...)` to Redis. Times are epoch seconds.

A worker that crashes three times in quick succession, then runs for two minutes and crashes again:

>>> s = on_started(Supervised("worker"), pid=100, now=0)
>>> s, delay = on_exit(s, code=-9, now=5)
>>> delay, s.state, restarts_recent(s, now=5)
(1.0, 'restarting', 1)
>>> s, delay = on_exit(on_started(s, pid=101, now=6), code=1, now=7)
>>> s, delay2 = on_exit(on_started(s, pid=102, now=9), code=1, now=10)
>>> delay, delay2
(2.0, 4.0)
>>> exit_line(s, 4.0, now=10)
'worker exited with code 1 (restart 3 in the last 10 min); restarting in 4 s'
>>> s, delay = on_exit(on_started(s, pid=103, now=14), code=-9, now=134)
>>> delay, s.restarts
(1.0, 4)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a run this long resets the backoff
RECENT_S = 600.0  # the window of `restarts_recent`

RUNNING, RESTARTING, STOPPED = "running", "restarting", "stopped"


@dataclass(frozen=True)
class Supervised:
    name: str
    state: str = STOPPED
    pid: int | None = None
    restarts: int = 0
    restart_times: tuple[float, ...] = ()  # when the restarts of the last RECENT_S were decided
    last_exit_code: int | None = None
    last_exit_at: float | None = None
    since: float | None = None  # when the current state began
    next_delay_s: float = BACKOFF_FIRST_S  # the backoff for a crash of a run shorter than STABLE_AFTER_S


def on_started(s: Supervised, pid: int, now: float) -> Supervised:
    return replace(s, state=RUNNING, pid=pid, since=now)


def on_exit(s: Supervised, code: int | None, now: float) -> tuple[Supervised, float]:
    """The service's process is gone: the new record and how many seconds to wait before starting it again.

    >>> s, delay = on_exit(on_started(Supervised("redis"), pid=7, now=100.0), code=None, now=101.0)
    >>> delay, s.next_delay_s, s.pid, s.last_exit_code, s.restarts
    (1.0, 2.0, None, None, 1)
    """
    ran_s = now - s.since if s.state == RUNNING and s.since is not None else 0.0
    delay = BACKOFF_FIRST_S if ran_s >= STABLE_AFTER_S else s.next_delay_s
    recent = (*(t for t in s.restart_times if now - t < RECENT_S), now)
    state = replace(
        s,
        state=RESTARTING,
        pid=None,
        restarts=s.restarts + 1,
        restart_times=recent,
        last_exit_code=code,
        last_exit_at=now,
        since=now,
        next_delay_s=min(delay * 2, BACKOFF_MAX_S),
    )
    return state, delay


def on_stopped(s: Supervised, now: float) -> Supervised:
    return replace(s, state=STOPPED, pid=None, since=now)


def restarts_recent(s: Supervised, now: float) -> int:
    """Restarts decided within the last 10 minutes.

    >>> restarts_recent(Supervised("synth", restart_times=(0.0, 500.0, 700.0)), now=800.0)
    2
    """
    return sum(1 for t in s.restart_times if now - t < RECENT_S)


def exit_line(s: Supervised, delay: float, now: float) -> str:
    code = "unknown" if s.last_exit_code is None else s.last_exit_code
    return (
        f"{s.name} exited with code {code} (restart {restarts_recent(s, now)} in the last 10 min); "
        f"restarting in {delay:g} s"
    )


def record(s: Supervised, now: float) -> dict:
    """The JSON object `lytte up` writes to the `{p}:services` hash under the service's name.

    >>> record(on_started(Supervised("dashboard"), pid=42, now=1.5), now=2.0)
    {'name': 'dashboard', 'state': 'running', 'pid': 42, 'restarts': 0, 'restarts_recent': 0, \
'last_exit_code': None, 'last_exit_ms': None, 'since_ms': 1500}
    """
    return {
        "name": s.name,
        "state": s.state,
        "pid": s.pid,
        "restarts": s.restarts,
        "restarts_recent": restarts_recent(s, now),
        "last_exit_code": s.last_exit_code,
        "last_exit_ms": _ms(s.last_exit_at),
        "since_ms": _ms(s.since),
    }


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)
